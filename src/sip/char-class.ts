// Byte classes from the RFC 3261 §25.1 grammar, as one 256-entry table built
// at module load. The parser tests a byte with one load and one AND instead
// of a chain of comparisons, and never builds a string to do it.

/**
 * token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
 * (§25.1). Method names and header names are tokens.
 */
export const C_TOKEN = 1;
/** DIGIT (RFC 5234 core rule). */
export const C_DIGIT = 2;
/** WSP = SP / HTAB: the only whitespace inside a line (§25.1 LWS). */
export const C_WSP = 4;
/** ALPHA: first character of a URI scheme (RFC 3986 §3.1). */
export const C_ALPHA = 8;
/** scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1, used by §25.1 absoluteURI). */
export const C_SCHEME = 16;
/**
 * hostname and IPv4address characters: alphanum / "-" / "." (§25.1 hostname,
 * toplabel, domainlabel). "_" is added because real DNS names carry it (SRV
 * labels) and a PBX resolves them anyway.
 */
export const C_HOST = 32;
/**
 * A byte allowed in a Request-URI: printable US-ASCII except SP and the bytes
 * RFC 3986 §2 leaves out of every URI (DQUOTE < > \ ^ ` { | }; non-ASCII
 * must be %-escaped). Not pedantry: Asterisk's chan_sip reads the
 * Request-URI through get_in_brackets(), so "sip:x<sip:0046...@pbx>" dials
 * the number inside the brackets where a plain reading finds user "x<sip".
 */
export const C_URI = 64;
/** SP / HTAB / CR / LF: linear whitespace once line folding is taken into account (§7.3.1, §25.1 LWS). */
export const C_LWS = 128;

/** Byte -> OR of the C_* classes it belongs to. */
export const CHAR_CLASS = new Uint8Array(256);
/** Byte -> its ASCII lowercase (other bytes map to themselves). Header names are case-insensitive (§7.3.1). */
export const LOWER = new Uint8Array(256);

export const SP = 0x20;
export const HTAB = 0x09;
export const CR = 0x0d;
export const LF = 0x0a;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const COMMA = 0x2c;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const LAQUOT = 0x3c;
export const RAQUOT = 0x3e;
export const AT = 0x40;
export const EQUAL = 0x3d;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const SLASH = 0x2f;

(function build(): void {
  for (let c = 0; c < 256; c++) {
    let k = 0;
    const alpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    const digit = c >= 0x30 && c <= 0x39;
    if (alpha) k |= C_ALPHA | C_TOKEN | C_SCHEME | C_HOST;
    if (digit) k |= C_DIGIT | C_TOKEN | C_SCHEME | C_HOST;
    if ('-.!%*_+`\'~'.indexOf(String.fromCharCode(c)) >= 0) k |= C_TOKEN;
    if (c === 0x2b || c === 0x2d || c === 0x2e) k |= C_SCHEME;
    if (c === 0x2d || c === 0x2e || c === 0x5f) k |= C_HOST;
    if (c > 0x20 && c < 0x7f && '"<>\\^`{|}'.indexOf(String.fromCharCode(c)) < 0) k |= C_URI;
    if (c === SP || c === HTAB) k |= C_WSP | C_LWS;
    if (c === CR || c === LF) k |= C_LWS;
    CHAR_CLASS[c] = k;
    LOWER[c] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
  }
})();
