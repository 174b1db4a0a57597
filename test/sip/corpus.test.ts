// Every SIP payload of the capture corpus (test/fixtures/corpus/*.pcap,
// real sipvicious, sipp and baresip traffic), extracted once with tshark
// into test/fixtures/sip/corpus/<capture>-<frame>.sip (see the README
// there), parsed and checked against what tshark's SIP dissector reports
// for the same frame. The expected values below are tshark's, copied in.

import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { parseSip } from '../../src/sip/parse-sip.js';
import { rangeText, SipMessage } from '../../src/sip/sip-message.js';
import { KIND_REQUEST, KIND_RESPONSE, METHOD_NAMES, PARSE_OK } from '../../src/sip/constants.js';

const dir = new URL('../../../test/fixtures/sip/corpus/', import.meta.url);

// tshark -T fields -E occurrence=f: sip.Method|sip.Status-Code, sip.r-uri.user, sip.r-uri.host,
// sip.User-Agent, sip.from.display.info (unquoted), sip.from.user, sip.from.host, sip.to.user,
// sip.to.host, sip.contact.user, sip.contact.host, sip.Call-ID, sip.CSeq.seq, sip.CSeq.method,
// sip.Via.branch, sip.auth.username (unquoted).
type Row = [
  file: string, what: string | number, ruriUser: string, ruriHost: string, userAgent: string, fromName: string,
  fromUser: string, fromHost: string, toUser: string, toHost: string, contactUser: string, contactHost: string,
  callId: string, cseq: number, cseqMethod: string, branch: string, authUser: string,
];
const TSHARK: Row[] = [
  ["legit-baresip-01.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "baresip v1.0.0 (x86_64/linux)", "", "1002", "secret-7f3a.pbx.example.com", "1002", "secret-7f3a.pbx.example.com", "1002-0x563edec914b0", "10.99.0.1", "9d23453866cfacc4", 10733, "REGISTER", "z9hG4bKd0eb06ddaeaa10c9", ""],
  ["legit-baresip-02.sip", 401, "", "", "", "", "1002", "secret-7f3a.pbx.example.com", "1002", "secret-7f3a.pbx.example.com", "", "", "9d23453866cfacc4", 10733, "REGISTER", "z9hG4bKd0eb06ddaeaa10c9", ""],
  ["legit-baresip-03.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "baresip v1.0.0 (x86_64/linux)", "", "1002", "secret-7f3a.pbx.example.com", "1002", "secret-7f3a.pbx.example.com", "1002-0x563edec914b0", "10.99.0.1", "9d23453866cfacc4", 10734, "REGISTER", "z9hG4bK080060914dab7464", "1002"],
  ["legit-baresip-04.sip", 200, "", "", "", "", "1002", "secret-7f3a.pbx.example.com", "1002", "secret-7f3a.pbx.example.com", "1002-0x563edec914b0", "10.99.0.1", "9d23453866cfacc4", 10734, "REGISTER", "z9hG4bK080060914dab7464", ""],
  ["legit-baresip-05.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "baresip v1.0.0 (x86_64/linux)", "", "1002", "secret-7f3a.pbx.example.com", "1002", "secret-7f3a.pbx.example.com", "1002-0x563edec914b0", "10.99.0.1", "9d23453866cfacc4", 10735, "REGISTER", "z9hG4bK646f83819559f720", ""],
  ["legit-baresip-06.sip", 401, "", "", "", "", "1002", "secret-7f3a.pbx.example.com", "1002", "secret-7f3a.pbx.example.com", "", "", "9d23453866cfacc4", 10735, "REGISTER", "z9hG4bK646f83819559f720", ""],
  ["legit-baresip-07.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "baresip v1.0.0 (x86_64/linux)", "", "1002", "secret-7f3a.pbx.example.com", "1002", "secret-7f3a.pbx.example.com", "1002-0x563edec914b0", "10.99.0.1", "9d23453866cfacc4", 10736, "REGISTER", "z9hG4bKcb99d7ba55903579", "1002"],
  ["legit-baresip-08.sip", 200, "", "", "", "", "1002", "secret-7f3a.pbx.example.com", "1002", "secret-7f3a.pbx.example.com", "", "", "9d23453866cfacc4", 10736, "REGISTER", "z9hG4bKcb99d7ba55903579", ""],
  ["legit-sipp-01.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "Zoiper rv2.10.20.3", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "1-12150@10.99.0.1", 1, "REGISTER", "z9hG4bK-12150-1-0", ""],
  ["legit-sipp-02.sip", 401, "", "", "", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "", "", "1-12150@10.99.0.1", 1, "REGISTER", "z9hG4bK-12150-1-0", ""],
  ["legit-sipp-03.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "Zoiper rv2.10.20.3", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "1-12150@10.99.0.1", 2, "REGISTER", "z9hG4bK-12150-1-2", "1001"],
  ["legit-sipp-04.sip", 200, "", "", "", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "1-12150@10.99.0.1", 2, "REGISTER", "z9hG4bK-12150-1-2", ""],
  ["legit-sipp-05.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "Zoiper rv2.10.20.3", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "2-12150@10.99.0.1", 1, "REGISTER", "z9hG4bK-12150-2-0", ""],
  ["legit-sipp-06.sip", 401, "", "", "", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "", "", "2-12150@10.99.0.1", 1, "REGISTER", "z9hG4bK-12150-2-0", ""],
  ["legit-sipp-07.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "Zoiper rv2.10.20.3", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "2-12150@10.99.0.1", 2, "REGISTER", "z9hG4bK-12150-2-2", "1001"],
  ["legit-sipp-08.sip", 200, "", "", "", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "2-12150@10.99.0.1", 2, "REGISTER", "z9hG4bK-12150-2-2", ""],
  ["legit-sipp-09.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "Zoiper rv2.10.20.3", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "3-12150@10.99.0.1", 1, "REGISTER", "z9hG4bK-12150-3-0", ""],
  ["legit-sipp-10.sip", 401, "", "", "", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "", "", "3-12150@10.99.0.1", 1, "REGISTER", "z9hG4bK-12150-3-0", ""],
  ["legit-sipp-11.sip", "REGISTER", "", "secret-7f3a.pbx.example.com", "Zoiper rv2.10.20.3", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "3-12150@10.99.0.1", 2, "REGISTER", "z9hG4bK-12150-3-2", "1001"],
  ["legit-sipp-12.sip", 200, "", "", "", "", "1001", "secret-7f3a.pbx.example.com", "1001", "secret-7f3a.pbx.example.com", "1001", "10.99.0.1", "3-12150@10.99.0.1", 2, "REGISTER", "z9hG4bK-12150-3-2", ""],
  ["svcrack-01.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 1, "REGISTER", "z9hG4bK-2320111155", ""],
  ["svcrack-02.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 1, "REGISTER", "z9hG4bK-2320111155", ""],
  ["svcrack-03.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-1506630849", "1003"],
  ["svcrack-04.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-1506630849", ""],
  ["svcrack-05.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-3430867", "1003"],
  ["svcrack-06.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-3430867", ""],
  ["svcrack-07.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-4198563249", "1003"],
  ["svcrack-08.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-4198563249", ""],
  ["svcrack-09.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-1366670934", "1003"],
  ["svcrack-10.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-1366670934", ""],
  ["svcrack-11.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-1821689017", "1003"],
  ["svcrack-12.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-1821689017", ""],
  ["svcrack-13.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-875008319", "1003"],
  ["svcrack-14.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-875008319", ""],
  ["svcrack-15.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-1581719087", "1003"],
  ["svcrack-16.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-1581719087", ""],
  ["svcrack-17.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-3428732942", "1003"],
  ["svcrack-18.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-3428732942", ""],
  ["svcrack-19.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-2417119788", "1003"],
  ["svcrack-20.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-2417119788", ""],
  ["svcrack-21.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-2582264371", "1003"],
  ["svcrack-22.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-2582264371", ""],
  ["svcrack-23.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-792400949", "1003"],
  ["svcrack-24.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-792400949", ""],
  ["svcrack-25.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-2728425063", "1003"],
  ["svcrack-26.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-2728425063", ""],
  ["svcrack-27.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-2764477469", "1003"],
  ["svcrack-28.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-2764477469", ""],
  ["svcrack-29.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-4062412087", "1003"],
  ["svcrack-30.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-4062412087", ""],
  ["svcrack-31.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-3211812500", "1003"],
  ["svcrack-32.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-3211812500", ""],
  ["svcrack-33.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-111651551", "1003"],
  ["svcrack-34.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-111651551", ""],
  ["svcrack-35.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-4092514507", "1003"],
  ["svcrack-36.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-4092514507", ""],
  ["svcrack-37.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-1594779058", "1003"],
  ["svcrack-38.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-1594779058", ""],
  ["svcrack-39.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-2641125958", "1003"],
  ["svcrack-40.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-2641125958", ""],
  ["svcrack-41.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-1767927247", "1003"],
  ["svcrack-42.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-1767927247", ""],
  ["svcrack-43.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-437061829", "1003"],
  ["svcrack-44.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-437061829", ""],
  ["svcrack-45.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "123", "1.1.1.1", "3239650309", 2, "REGISTER", "z9hG4bK-4200269398", "1003"],
  ["svcrack-46.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3239650309", 2, "REGISTER", "z9hG4bK-4200269398", ""],
  ["svmap-01.sip", "OPTIONS", "100", "10.99.0.2", "friendly-scanner", "sipvicious", "100", "1.1.1.1", "100", "1.1.1.1", "100", "127.0.0.1", "258483021482139355540060", 1, "OPTIONS", "z9hG4bK-146620746", ""],
  ["svmap-02.sip", 200, "", "", "", "sipvicious", "100", "1.1.1.1", "100", "1.1.1.1", "", "", "258483021482139355540060", 1, "OPTIONS", "z9hG4bK-146620746", ""],
  ["svwar-01.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "2409489351", "2409489351", "10.99.0.2", "2409489351", "10.99.0.2", "2409489351", "10.99.0.2", "2314974630", 1, "REGISTER", "z9hG4bK-4165263975", ""],
  ["svwar-02.sip", 404, "", "", "", "2409489351", "2409489351", "10.99.0.2", "2409489351", "10.99.0.2", "", "", "2314974630", 1, "REGISTER", "z9hG4bK-4165263975", ""],
  ["svwar-03.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1000", "1000", "10.99.0.2", "1000", "10.99.0.2", "1000", "10.99.0.2", "918385987", 1, "REGISTER", "z9hG4bK-1633953854", ""],
  ["svwar-04.sip", 404, "", "", "", "1000", "1000", "10.99.0.2", "1000", "10.99.0.2", "", "", "918385987", 1, "REGISTER", "z9hG4bK-1633953854", ""],
  ["svwar-05.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1001", "1001", "10.99.0.2", "1001", "10.99.0.2", "1001", "10.99.0.2", "360085127", 1, "REGISTER", "z9hG4bK-2357925602", ""],
  ["svwar-06.sip", 401, "", "", "", "1001", "1001", "10.99.0.2", "1001", "10.99.0.2", "", "", "360085127", 1, "REGISTER", "z9hG4bK-2357925602", ""],
  ["svwar-07.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1002", "1002", "10.99.0.2", "1002", "10.99.0.2", "1002", "10.99.0.2", "1344163977", 1, "REGISTER", "z9hG4bK-711508321", ""],
  ["svwar-08.sip", 401, "", "", "", "1002", "1002", "10.99.0.2", "1002", "10.99.0.2", "", "", "1344163977", 1, "REGISTER", "z9hG4bK-711508321", ""],
  ["svwar-09.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "1003", "10.99.0.2", "3133405513", 1, "REGISTER", "z9hG4bK-2734859244", ""],
  ["svwar-10.sip", 401, "", "", "", "1003", "1003", "10.99.0.2", "1003", "10.99.0.2", "", "", "3133405513", 1, "REGISTER", "z9hG4bK-2734859244", ""],
  ["svwar-11.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1004", "1004", "10.99.0.2", "1004", "10.99.0.2", "1004", "10.99.0.2", "2779152485", 1, "REGISTER", "z9hG4bK-643868845", ""],
  ["svwar-12.sip", 404, "", "", "", "1004", "1004", "10.99.0.2", "1004", "10.99.0.2", "", "", "2779152485", 1, "REGISTER", "z9hG4bK-643868845", ""],
  ["svwar-13.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1005", "1005", "10.99.0.2", "1005", "10.99.0.2", "1005", "10.99.0.2", "1439614864", 1, "REGISTER", "z9hG4bK-1328562210", ""],
  ["svwar-14.sip", 404, "", "", "", "1005", "1005", "10.99.0.2", "1005", "10.99.0.2", "", "", "1439614864", 1, "REGISTER", "z9hG4bK-1328562210", ""],
  ["svwar-15.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1006", "1006", "10.99.0.2", "1006", "10.99.0.2", "1006", "10.99.0.2", "666275242", 1, "REGISTER", "z9hG4bK-448959493", ""],
  ["svwar-16.sip", 404, "", "", "", "1006", "1006", "10.99.0.2", "1006", "10.99.0.2", "", "", "666275242", 1, "REGISTER", "z9hG4bK-448959493", ""],
  ["svwar-17.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1007", "1007", "10.99.0.2", "1007", "10.99.0.2", "1007", "10.99.0.2", "3992568203", 1, "REGISTER", "z9hG4bK-3608256865", ""],
  ["svwar-18.sip", 404, "", "", "", "1007", "1007", "10.99.0.2", "1007", "10.99.0.2", "", "", "3992568203", 1, "REGISTER", "z9hG4bK-3608256865", ""],
  ["svwar-19.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1008", "1008", "10.99.0.2", "1008", "10.99.0.2", "1008", "10.99.0.2", "2995208369", 1, "REGISTER", "z9hG4bK-1490419191", ""],
  ["svwar-20.sip", 404, "", "", "", "1008", "1008", "10.99.0.2", "1008", "10.99.0.2", "", "", "2995208369", 1, "REGISTER", "z9hG4bK-1490419191", ""],
  ["svwar-21.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1009", "1009", "10.99.0.2", "1009", "10.99.0.2", "1009", "10.99.0.2", "3422218379", 1, "REGISTER", "z9hG4bK-1659824765", ""],
  ["svwar-22.sip", 404, "", "", "", "1009", "1009", "10.99.0.2", "1009", "10.99.0.2", "", "", "3422218379", 1, "REGISTER", "z9hG4bK-1659824765", ""],
  ["svwar-23.sip", "REGISTER", "", "10.99.0.2", "friendly-scanner", "1010", "1010", "10.99.0.2", "1010", "10.99.0.2", "1010", "10.99.0.2", "949042749", 1, "REGISTER", "z9hG4bK-762333588", ""],
  ["svwar-24.sip", 404, "", "", "", "1010", "1010", "10.99.0.2", "1010", "10.99.0.2", "", "", "949042749", 1, "REGISTER", "z9hG4bK-762333588", ""],
];

const msg = new SipMessage();
const text = (s: number, e: number): string => rangeText(msg, s, e);

t.test('the table covers every extracted payload', async (t) => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sip')).sort();
  t.same(files, TSHARK.map((r) => r[0]).sort());
  t.equal(files.length, 92);
});

for (const row of TSHARK) {
  const [file, what, ruriUser, ruriHost, ua, fromName, fromUser, fromHost, toUser, toHost, cUser, cHost, callId, cseq, cseqMethod, branch, authUser] = row;
  t.test(file, async (t) => {
    const buf = readFileSync(new URL(file, dir));
    t.equal(parseSip(buf, 0, buf.length, msg, false), PARSE_OK);
    t.equal(msg.end, buf.length, 'the whole datagram is one message');
    if (typeof what === 'number') {
      t.equal(msg.kind, KIND_RESPONSE);
      t.equal(msg.status, what);
    } else {
      t.equal(msg.kind, KIND_REQUEST);
      t.equal(METHOD_NAMES[msg.method], what);
      t.equal(text(msg.methodStart, msg.methodEnd), what);
    }
    t.equal(text(msg.ruriUserStart, msg.ruriUserEnd), ruriUser, 'Request-URI user');
    t.equal(text(msg.ruriHostStart, msg.ruriHostEnd), ruriHost, 'Request-URI host');
    t.equal(text(msg.userAgentStart, msg.userAgentEnd), ua, 'User-Agent');
    t.equal(text(msg.fromNameStart, msg.fromNameEnd), fromName, 'From display name');
    t.equal(text(msg.fromUserStart, msg.fromUserEnd), fromUser, 'From user');
    t.equal(text(msg.fromHostStart, msg.fromHostEnd), fromHost, 'From host');
    t.equal(text(msg.toUserStart, msg.toUserEnd), toUser, 'To user');
    t.equal(text(msg.toHostStart, msg.toHostEnd), toHost, 'To host');
    t.equal(text(msg.contactUserStart, msg.contactUserEnd), cUser, 'Contact user');
    t.equal(text(msg.contactHostStart, msg.contactHostEnd), cHost, 'Contact host');
    t.equal(text(msg.callIdStart, msg.callIdEnd), callId, 'Call-ID');
    t.equal(msg.cseq, cseq, 'CSeq number');
    t.equal(METHOD_NAMES[msg.cseqMethod], cseqMethod, 'CSeq method');
    if (typeof what === 'number') t.equal(METHOD_NAMES[msg.method], cseqMethod, "a response's method is its CSeq method");
    t.equal(text(msg.viaBranchStart, msg.viaBranchEnd), branch, 'first Via branch');
    t.equal(msg.hasCredentials, authUser !== '', 'credentials');
    t.equal(text(msg.authUserStart, msg.authUserEnd), authUser, 'Authorization username');
  });
}
