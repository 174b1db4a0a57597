// Numeric ids for SIP methods and the headers sipwall reads. The parser maps
// names to ids with lookup tables, never by building strings, so the engine
// compares small integers on the hot path.

// ---- parse outcome -------------------------------------------------------
export const PARSE_OK = 0;
/** The message is not complete in this buffer (headers not terminated, or body shorter than Content-Length). */
export const PARSE_INCOMPLETE = 1;
/** The bytes are not a SIP message; SipMessage.reason says why. */
export const PARSE_INVALID = 2;

/**
 * Every SipMessage.reason that parseSip() can report with PARSE_INVALID.
 * Stable kebab-case strings; bounded, so safe as a metric label.
 */
export const INVALID_REASONS: readonly string[] = [
  'bad-range', 'bad-start-line', 'bad-request-line', 'bad-request-uri', 'bad-version', 'bad-status-line',
  'bad-line-end', 'bad-header-name', 'missing-colon', 'bad-fold', 'headers-too-long', 'bad-content-length',
  'content-length-too-large', 'conflicting-content-length', 'bad-cseq', 'cseq-method-mismatch', 'bad-from',
  'bad-to', 'missing-content-length', 'repeated-header', 'bad-call-id',
];

// ---- message kinds -------------------------------------------------------
export const KIND_NONE = 0;
export const KIND_REQUEST = 1;
export const KIND_RESPONSE = 2;
/** RFC 5626 §3.5.1 CRLF keep-alive ("\r\n\r\n" ping or "\r\n" pong). */
export const KIND_KEEPALIVE = 3;

// ---- methods (RFC 3261 §27.4 and the extension RFCs) --------------------
export const M_OTHER = 0;
export const M_INVITE = 1;
export const M_ACK = 2;
export const M_BYE = 3;
export const M_CANCEL = 4;
export const M_REGISTER = 5;
export const M_OPTIONS = 6;
export const M_INFO = 7;
export const M_PRACK = 8;
export const M_SUBSCRIBE = 9;
export const M_NOTIFY = 10;
export const M_UPDATE = 11;
export const M_MESSAGE = 12;
export const M_REFER = 13;
export const M_PUBLISH = 14;

/** Method names indexed by id; M_OTHER is reported as 'OTHER'. Bounded: safe as a metric label. */
export const METHOD_NAMES: readonly string[] = [
  'OTHER', 'INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'INFO',
  'PRACK', 'SUBSCRIBE', 'NOTIFY', 'UPDATE', 'MESSAGE', 'REFER', 'PUBLISH',
];

// ---- headers -------------------------------------------------------------
export const H_OTHER = 0;
export const H_VIA = 1; // v
export const H_FROM = 2; // f
export const H_TO = 3; // t
export const H_CALL_ID = 4; // i
export const H_CSEQ = 5;
export const H_CONTACT = 6; // m
export const H_CONTENT_LENGTH = 7; // l
export const H_CONTENT_TYPE = 8; // c
export const H_USER_AGENT = 9;
export const H_AUTHORIZATION = 10;
export const H_PROXY_AUTHORIZATION = 11;
export const H_MAX_FORWARDS = 12;
export const H_EXPIRES = 13;
export const H_SUPPORTED = 14; // k
export const H_CONTENT_ENCODING = 15; // e
export const H_SUBJECT = 16; // s
export const H_EVENT = 17; // o
export const H_ALLOW_EVENTS = 18; // u
export const H_REFER_TO = 19; // r
export const H_REFERRED_BY = 20; // b
export const H_SESSION_EXPIRES = 21; // x
export const H_IDENTITY = 22; // y
export const H_ACCEPT_CONTACT = 23; // a
export const H_REJECT_CONTACT = 24; // j
export const H_REQUEST_DISPOSITION = 25; // d
export const H_IDENTITY_INFO = 26; // n
export const H_SERVER = 27;
export const H_WWW_AUTHENTICATE = 28;
export const H_PROXY_AUTHENTICATE = 29;
export const H_ROUTE = 30;
export const H_RECORD_ROUTE = 31;
export const H_COUNT = 32;

/** Canonical header names indexed by id (for output only, never for matching). */
export const HEADER_NAMES: readonly string[] = [
  'other', 'Via', 'From', 'To', 'Call-ID', 'CSeq', 'Contact', 'Content-Length',
  'Content-Type', 'User-Agent', 'Authorization', 'Proxy-Authorization',
  'Max-Forwards', 'Expires', 'Supported', 'Content-Encoding', 'Subject', 'Event',
  'Allow-Events', 'Refer-To', 'Referred-By', 'Session-Expires', 'Identity',
  'Accept-Contact', 'Reject-Contact', 'Request-Disposition', 'Identity-Info',
  'Server', 'WWW-Authenticate', 'Proxy-Authenticate', 'Route', 'Record-Route',
];

// ---- caps ------------------------------------------------------------------
/** Most bytes of header section scanned per message. RFC 3261 sets no limit; 8 KiB is well above any real REGISTER/INVITE header block. */
export const MAX_HEADER_BYTES = 8192;
/** Most header lines recorded per message; further lines are scanned for CRLFCRLF but not recorded. */
export const MAX_HEADERS = 64;
/** Largest Content-Length accepted (bytes). A SIP body over UDP cannot exceed 65535; over TCP we still cap it. */
export const MAX_CONTENT_LENGTH = 65535;
