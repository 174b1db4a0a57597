// The shape of a validated configuration (defaults merged with the admin's
// file). Every key is documented in rules/README.md.

export type Action = 'accept' | 'drop';

/** Message parts a fingerprint can look at. `from`/`to` are the whole header value. */
export const FINGERPRINT_FIELDS = [
  'requestUri', 'from', 'fromName', 'fromUser', 'fromHost', 'to', 'toUser', 'toHost', 'contactHost', 'userAgent', 'callId',
] as const;
export type FingerprintField = (typeof FINGERPRINT_FIELDS)[number];

export interface UserAgentRule {
  match: string;
  enabled: boolean;
  note: string;
}

export interface FingerprintRule {
  field: FingerprintField;
  /** Exactly one of these four is set. */
  contains?: string;
  equals?: string;
  prefix?: string;
  regex?: string;
  enabled: boolean;
  note: string;
}

export interface RateLimit {
  limit: number;
  windowSeconds: number;
}

export interface Config {
  secretHosts: string[];
  trustSeconds: number;
  trusted: string[];
  blocked: string[];
  ipv6PrefixLength: number;
  userAgents: Record<string, UserAgentRule>;
  fingerprints: Record<string, FingerprintRule>;
  rateLimits: { register: RateLimit; invite: RateLimit; all: RateLimit };
  bans: { baseSeconds: number; factor: number; maxSeconds: number; forgetAfterSeconds: number; maxEntries: number };
  answers: AnswersConfig;
  distinctUsers: RateLimit;
  tollFraud: TollFraudConfig;
  strict: boolean;
  policy: { stun: Action; nonSip: Action; invalidSip: Action };
  maxTrackedSources: number;
  /** Where bans are saved across restarts (absolute path). */
  stateFile: string;
  /** The control socket of sipwall start (sipwall status, bans, ban...). */
  control: { socket: string; group: string };
  inline: InlineConfig;
  /** The Prometheus /metrics endpoint of sipwall start (docs/metrics.md). */
  metrics: MetricsConfig;
}

/** What the PBX's answers reveal (rules/README.md, "answers"). */
export interface AnswersConfig {
  watch: boolean;
  /** Windows over 401/407 answered to requests that carried credentials, and 403. */
  authFailures: RateLimit[];
  /** Windows over answers saying the user does not exist, to sources that have authenticated. */
  unknownUsers: RateLimit[];
  /** The same for sources that have not authenticated: how an enumerator starts. */
  unknownUsersBeforeAuth: RateLimit;
  unknownUserStatus: number[];
  /** Trust a source this long after a 200 to its REGISTER with credentials; 0: never. */
  trustAfterAuthSeconds: number;
  maxPending: number;
}

/** INVITEs from untrusted sources (rules/README.md, "tollFraud"). */
export interface TollFraudConfig {
  enabled: boolean;
  internationalPrefixes: string[];
  blockInternational: boolean;
  homeCountryCodes: string[];
  highRiskCountryCodes: string[];
  premiumPrefixes: string[];
  stripPrefixes: string[];
  maxConcurrentCalls: number;
  callSeconds: number;
}

export interface MetricsConfig {
  enabled: boolean;
  /** "ipv4:port" or "[ipv6]:port". */
  listen: string;
}

/** How sipwall sits inline: kernel rules and the queue (see rules/README.md). */
export interface InlineConfig {
  ports: string;
  /** TCP ports in `ports` carrying SIP over TLS: not queued (render-rules.ts, "TLS ports"). */
  tlsPorts: number[];
  /** How often the kernel rules are read back and put back if another tool removed them; 0: never (cli/rules-watchdog.ts). */
  ruleCheckSeconds: number;
  queueNum: number;
  failOpen: boolean;
  trustSkipQueue: boolean;
  trustMark: number;
  watchMark: number;
  banScope: 'sip-ports' | 'all';
  ipv6: boolean;
  banSetMaxElem: number;
  queueMaxLen: number;
  copyRange: number;
  socketBufferBytes: number;
  batchSize: number;
  hotMaxEntries: number;
}

/** Where each piece of a loaded configuration came from, for messages and `sipwall status`. */
export interface LoadedConfig {
  config: Config;
  /** The files read, defaults first. */
  files: string[];
  /** Non-fatal remarks (a CIDR with host bits set, no secret host configured...). */
  warnings: string[];
}
