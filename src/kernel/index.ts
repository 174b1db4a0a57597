// Public API of sipwall's kernel side: the iptables/ip6tables rules that
// divert SIP into the queue, the ban ipsets, and the privilege check.

export { NetworkBans, networkText } from './network-bans.js';
export { BanSet, needsRenewal, RENEW_EVERY_MS, type BanEntry, type BanSetOptions, type BanSetStats } from './ban-set.js';
export { CommandRunner, DEFAULT_RUNNER, type RunResult } from './command-runner.js';
export { installRules, removeRules, type InstallReport, type RemoveReport } from './install-rules.js';
export { findInstalled, type FamilyInstall, type InstalledState, type SetInfo } from './installed-rules.js';
export {
  BAN_CHAIN,
  MARK_CHAIN,
  DEFAULT_KERNEL_OPTIONS,
  QUEUE_CHAIN,
  validateKernelOptions,
  type BanScope,
  type KernelOptions,
  type KernelOptionsInput,
  type PortRange,
} from './kernel-options.js';
export { checkPrivilege } from './privilege.js';
export { renderRules, type RenderedRules } from './render-rules.js';
export { checkRules } from './rules-check.js';
