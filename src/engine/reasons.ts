// Why a packet got its verdict. Numeric ids on the hot path; the names are
// stable (metrics labels, logs, `sipwall check` output) and bounded in number.

export const R_OK = 0;
export const R_BLOCKED = 1;
export const R_BANNED = 2;
export const R_TRUSTED_LIST = 3;
export const R_TRUSTED = 4;
export const R_SCANNER_UA = 5;
export const R_FINGERPRINT = 6;
export const R_SECRET_HOST = 7;
export const R_RATE_REGISTER = 8;
export const R_RATE_INVITE = 9;
export const R_RATE_ALL = 10;
export const R_STRICT = 11;
export const R_RESPONSE = 12;
export const R_KEEPALIVE = 13;
export const R_STUN = 14;
export const R_NON_SIP = 15;
export const R_INVALID_SIP = 16;
export const R_NO_PAYLOAD = 17;
export const R_UNDECODABLE = 18;
export const R_FLOW_DROPPED = 19;
/** A TCP segment holding only the start of a message (judged when the rest arrives). */
export const R_PARTIAL = 20;
/** A TCP segment beyond a gap in the stream: dropped so the sender retransmits in order. */
export const R_TCP_GAP = 21;
/** A TCP segment that only repeats bytes already judged and accepted. */
export const R_RETRANSMIT = 22;
/** Banned by the admin (sipwall ban). */
export const R_MANUAL = 23;
/** Failed authentication answers from the PBX reached a limit (answers.authFailures). */
export const R_AUTH_FAILURES = 24;
/** "No such user" answers from the PBX reached a limit (answers.unknownUsers). */
export const R_UNKNOWN_USERS = 25;
/** One source tried too many distinct users (distinctUsers). */
export const R_DISTINCT_USERS = 26;
/** An INVITE from an untrusted source to an international, high-risk or premium number (tollFraud). */
export const R_TOLL_FRAUD = 27;
/** An INVITE beyond tollFraud.maxConcurrentCalls open calls of its source. */
export const R_CALL_LIMIT = 28;
/** A packet leaving the PBX, watched and let through. */
export const R_ANSWER = 29;
/** Trusted after the PBX accepted its credentials (answers.trustAfterAuthSeconds). */
export const R_AUTH_TRUST = 30;
/** A TCP segment whose bytes differ from those already judged at the same sequence numbers. */
export const R_TCP_OVERLAP = 31;
/** A TCP segment repeating bytes older than what a flow keeps to compare them with. */
export const R_TCP_OLD = 32;
/** A TLS record on a queued port: SIP over TLS that sipwall cannot read (inline.tlsPorts). Handled by policy.nonSip. */
export const R_TLS = 33;
/** A TCP segment the kernel would not deliver as the stream data we judge: URG, a SYN with data, data without ACK. */
export const R_TCP_FLAGS = 34;

export const REASON_NAMES: readonly string[] = [
  'ok', 'blocked', 'banned', 'trusted-list', 'trusted', 'scanner-ua', 'fingerprint', 'secret-host',
  'rate-register', 'rate-invite', 'rate-all', 'strict', 'response', 'keepalive', 'stun', 'non-sip',
  'invalid-sip', 'no-payload', 'undecodable', 'flow-dropped', 'partial', 'tcp-gap', 'retransmit', 'manual',
  'auth-failures', 'unknown-users', 'distinct-users', 'toll-fraud', 'call-limit', 'answer', 'auth-trust',
  'tcp-overlap', 'tcp-old', 'tls', 'tcp-flags',
];
