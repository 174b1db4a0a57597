// One table of errors with stable codes, in the manner of undici's
// lib/core/errors.js: callers and tests match on `code`, never on message text,
// so messages can improve without breaking anybody's automation.
//
// Nothing on the packet path throws: these are for configuration, the CLI, the
// control socket and setup of the kernel and the queue.

export class SipwallError extends Error {
  readonly code: string;
  constructor(message: string, code = 'SIPWALL_ERR_UNKNOWN', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SipwallError';
    this.code = code;
  }
}

/** A configuration file that cannot be used: names the file, the key and the problem. */
export class ConfigError extends SipwallError {
  readonly file: string;
  readonly key: string;
  constructor(file: string, key: string, problem: string) {
    super(`${file}: ${key === '' ? '' : `${key}: `}${problem}`, 'SIPWALL_ERR_CONFIG');
    this.name = 'ConfigError';
    this.file = file;
    this.key = key;
  }
}

/** Bad command-line usage: unknown flag, missing argument, bad value. */
export class UsageError extends SipwallError {
  constructor(message: string) {
    super(message, 'SIPWALL_ERR_USAGE');
    this.name = 'UsageError';
  }
}

/** An input file (capture, SIP message, state file) that cannot be read as what it claims to be. */
export class InputError extends SipwallError {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`, 'SIPWALL_ERR_INPUT');
    this.name = 'InputError';
    this.file = file;
  }
}

/** Missing privilege (root or CAP_NET_ADMIN) for an operation that changes the host. */
export class PermissionError extends SipwallError {
  constructor(message: string) {
    super(message, 'SIPWALL_ERR_PERMISSION');
    this.name = 'PermissionError';
  }
}

/** A failure talking to the kernel: iptables, ipset, netlink, NFQUEUE. */
export class KernelError extends SipwallError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'SIPWALL_ERR_KERNEL', options);
    this.name = 'KernelError';
  }
}

/** The native addon is missing, failed to load, or refused an operation. */
export class NativeError extends SipwallError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'SIPWALL_ERR_NATIVE', options);
    this.name = 'NativeError';
  }
}

/** An NFQUEUE queue that cannot be used: bound by another consumer, closed, or misused. */
export class QueueError extends SipwallError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'SIPWALL_ERR_QUEUE', options);
    this.name = 'QueueError';
  }
}

/** The control socket of a running sipwall cannot be reached, or refused a request. */
export class ControlError extends SipwallError {
  constructor(message: string) {
    super(message, 'SIPWALL_ERR_CONTROL');
    this.name = 'ControlError';
  }
}

/** Exit status for each code, so the CLI maps errors to exits in one place. */
export const EXIT_CODES: Readonly<Record<string, number>> = {
  SIPWALL_ERR_USAGE: 64, // EX_USAGE
  SIPWALL_ERR_INPUT: 65, // EX_DATAERR
  SIPWALL_ERR_CONFIG: 78, // EX_CONFIG
  SIPWALL_ERR_PERMISSION: 77, // EX_NOPERM
  SIPWALL_ERR_KERNEL: 71, // EX_OSERR
  SIPWALL_ERR_NATIVE: 71,
  SIPWALL_ERR_QUEUE: 69, // EX_UNAVAILABLE
  SIPWALL_ERR_CONTROL: 69, // EX_UNAVAILABLE
  SIPWALL_ERR_UNKNOWN: 70, // EX_SOFTWARE
};

/**
 * The stable code of any error, for the CLI's error line and the JSON logs:
 * its SIPWALL_ERR_* code, else the system's (ENOENT, EACCES... from a
 * failed call), else SIPWALL_ERR_UNKNOWN. Automation matches on this, not
 * on the message.
 */
export function errorCode(e: unknown): string {
  if (e instanceof SipwallError) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'SIPWALL_ERR_UNKNOWN';
}

/** The one line the CLI prints for a SipwallError: "sipwall CMD: what went wrong [SIPWALL_ERR_...]". */
export function errorLine(e: SipwallError): string {
  return `${e.message.startsWith('sipwall') ? e.message : `sipwall: ${e.message}`} [${e.code}]`;
}
