// The two versions of the spec the conformance docs cover. MQTT 5.0 reuses the id format of 3.1.1 with other
// meanings ([MQTT-3.1.2-2] is one statement in 3.1.1 and another in 5.0), so each version has its own statement
// list, its own doc and its own tests: a citation counts for the version whose tests it is in (`owns`).
// Part of scripts/conformance.mjs (see there).

/** Test files whose names cite MQTT 5.0 ids; every other test file cites 3.1.1 ids. */
/** The packet sections both versions share, with their titles (MQTT 5 adds 3.15 AUTH). */
const PACKET_SECTIONS = [
  ["3.1", "3.1 CONNECT"],
  ["3.2", "3.2 CONNACK"],
  ["3.3", "3.3 PUBLISH"],
  ["3.4", "3.4 PUBACK"],
  ["3.5", "3.5 PUBREC"],
  ["3.6", "3.6 PUBREL"],
  ["3.7", "3.7 PUBCOMP"],
  ["3.8", "3.8 SUBSCRIBE"],
  ["3.9", "3.9 SUBACK"],
  ["3.10", "3.10 UNSUBSCRIBE"],
  ["3.11", "3.11 UNSUBACK"],
  ["3.12", "3.12 PINGREQ"],
  ["3.13", "3.13 PINGRESP"],
  ["3.14", "3.14 DISCONNECT"],
];

export const V5_TEST_DIR = "test/protocol5/";

const ownedByV5 = (file) => file.startsWith(V5_TEST_DIR);

export const V311 = {
  key: "3.1.1",
  title: "MQTT 3.1.1",
  standard: "the OASIS MQTT Version 3.1.1 standard",
  statementsFile: "docs/conformance-statements.json",
  docFile: "docs/conformance.md",
  owns: (file) => !ownedByV5(file),
  testScope: `test/ outside ${V5_TEST_DIR}`,
  scopeNote: `Tests under ${V5_TEST_DIR} cite MQTT 5.0 ids: they are listed in [conformance5.md](conformance5.md), never here.`,
  idsNote: "Ids are kept exactly as the spec spells them, including its two irregular ones, `MQTT-3.1.2.7` and `MQTT-3-8.3-4`.",
  /**
   * Ids that the specification itself spells irregularly. They are kept exactly as the spec writes them, so that a
   * test cites the same string a reader finds in the spec. Value: the section the statement belongs to.
   */
  specSpelledIds: new Map([
    ["MQTT-3.1.2.7", "3.1.2"],
    ["MQTT-3-8.3-4", "3.8.3"],
  ]),
  /** Other spellings of an id, for the suggestion next to an unknown citation. */
  aliases: new Map(),
  /** Titles of the chapter-level groups the doc has one table for. */
  groupTitles: new Map([
    ["1.5", "1.5 Data representation"],
    ["2.2", "2.2 Fixed header"],
    ["2.3", "2.3 Variable header: packet identifier"],
    ...PACKET_SECTIONS,
    ["4.1", "4.1 Storing state"],
    ["4.3", "4.3 Quality of Service levels and protocol flows"],
    ["4.4", "4.4 Message delivery retry"],
    ["4.5", "4.5 Message receipt"],
    ["4.6", "4.6 Message ordering"],
    ["4.7", "4.7 Topic names and topic filters"],
    ["4.8", "4.8 Handling errors"],
    ["6", "6 Using WebSocket as a network transport"],
    ["7", "7 Conformance"],
  ]),
};

export const V5 = {
  key: "5.0",
  title: "MQTT 5.0",
  standard: "the OASIS MQTT Version 5.0 standard",
  statementsFile: "docs/conformance5-statements.json",
  docFile: "docs/conformance5.md",
  owns: ownedByV5,
  testScope: V5_TEST_DIR,
  scopeNote: `Only tests under ${V5_TEST_DIR} count here: the same id cited anywhere else in test/ is the 3.1.1 statement of that number, listed in [conformance.md](conformance.md).`,
  idsNote:
    "Ids are those of the standard's Appendix B. Its body spells one of them differently, `MQTT-4.2-1` for " +
    "`MQTT-4.2.0-1`; a test that cites the body's spelling is pointed to the Appendix B one.",
  /** How the notes of this list begin, for readers of the doc. */
  notesGuide: [
    "*Same … as 3.1.1* (handler, parser, decoder, session code…): one code path serves both versions, tested under the 3.1.1 id named.",
    "*Met by construction*: the server cannot do otherwise (it never sends the thing, or one encoder writes it).",
    "*No test name cites this id yet*: a test under test/protocol5/ checks it but cites another id, or none.",
    "*No MQTT 5 protocol test yet*: built, but no test drives it over an MQTT 5 connection.",
    "*Not built yet (issue 14)*: the feature is still to come; the note says what the server does meanwhile.",
    "*Does not apply*: the statement binds a server option mqgate does not take. *Client obligation*: binds clients only.",
  ],
  specSpelledIds: new Map(),
  aliases: new Map([["MQTT-4.2-1", "MQTT-4.2.0-1"]]),
  groupTitles: new Map([
    ["1.5", "1.5 Data representation"],
    ["2.1", "2.1 Structure of an MQTT Control Packet"],
    ["2.2", "2.2 Variable header: packet identifier and properties"],
    ...PACKET_SECTIONS,
    ["3.15", "3.15 AUTH"],
    ["4.1", "4.1 Session State"],
    ["4.2", "4.2 Network Connections"],
    ["4.3", "4.3 Quality of Service levels and protocol flows"],
    ["4.4", "4.4 Message delivery retry"],
    ["4.5", "4.5 Message receipt"],
    ["4.6", "4.6 Message ordering"],
    ["4.7", "4.7 Topic Names and Topic Filters"],
    ["4.8", "4.8 Subscriptions"],
    ["4.9", "4.9 Flow Control"],
    ["4.12", "4.12 Enhanced authentication"],
    ["4.13", "4.13 Handling errors"],
    ["6", "6 Using WebSocket as a network transport"],
  ]),
};

/** Both versions, in the order `--check` reports them. */
export const SPECS = [V311, V5];
