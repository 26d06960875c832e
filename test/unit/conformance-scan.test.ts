import { describe, expect, it } from "vitest";
import { cite, loadConformance } from "../helpers/conformance.js";

// The parts of scripts/conformance.mjs that know no version of the spec: finding citations in test sources
// (scripts/lib/conformance/scan.mjs), and reading ids (scripts/lib/conformance/statements.mjs). NB: no string in
// this file may contain a bracketed statement id (test/unit/conformance.test.ts checks it): use cite().

const conformance = await loadConformance();
const { V5 } = conformance;
const v311Ids = conformance.check().statements.map((s) => s.id);
const v5Ids = conformance.check(undefined, V5).statements.map((s) => s.id);

describe("scanner", () => {
  it("finds citations in describe/it/test names, table-driven case names and template titles, not in comments", () => {
    const src = [
      `// it("${cite("MQTT-1.5.3-1")} in a line comment")`,
      `/* it("${cite("MQTT-1.5.3-2")} in a block comment") */`,
      `describe("${cite("MQTT-3.1.0-1")} a describe", () => {`,
      `  it("${cite("MQTT-3.1.0-2")} ${cite("MQTT-3.1.2-1")} two ids", async () => {`,
      `    expect(x).toMatch(/it's a regex with a quote/);`,
      `  });`,
      `  it.each([["a", 1]])("${cite("MQTT-3.1.2-2")} each %s", () => {});`,
      `  test.skip("${cite("MQTT-3.1.2-3")} skipped", () => {});`,
      `  it.todo("${cite("MQTT-3.1.2-4")} todo");`,
      "  for (const q of [0, 1]) it(`" + cite("MQTT-3.1.2-5") + ' QoS ${q} with ${`nested ${"x"}`} text`, () => {});',
      `});`,
      `const cases = [["${cite("MQTT-3.1.2-6")} a case", 1]];`,
      `describe.skip("off", () => { it('${cite("MQTT-3.1.2-8")} inside a skipped describe', () => {}); });`,
      `x.it("${cite("MQTT-3.1.2-10")} a method called it is not a test");`,
    ].join("\n");
    const found = conformance.scanTestSource(src).map((c) => `${c.id} ${c.kind}${c.pending ? " pending" : ""} @${c.line}`);
    expect(found).toEqual([
      "MQTT-3.1.0-1 describe @3",
      "MQTT-3.1.0-2 test @4",
      "MQTT-3.1.2-1 test @4",
      "MQTT-3.1.2-2 test @7",
      "MQTT-3.1.2-3 test pending @8",
      "MQTT-3.1.2-4 test pending @9",
      "MQTT-3.1.2-5 test @10",
      "MQTT-3.1.2-6 case @12",
      "MQTT-3.1.2-8 test pending @13",
      "MQTT-3.1.2-10 case @14",
    ]);
    const template = conformance.scanTestSource(src).find((c) => c.id === "MQTT-3.1.2-5");
    expect(template?.title).toBe(`${cite("MQTT-3.1.2-5")} QoS \${…} with \${…} text`);
  });

  it("reports a malformed citation as cited text, so the unknown-id check catches it", () => {
    const src = `it("${cite("MQTT-3.8.4-1, 4-4")} combined", () => {});`;
    expect(conformance.scanTestSource(src).map((c) => c.id)).toEqual(["MQTT-3.8.4-1, 4-4"]);
  });

  it("suggests the spec's spelling: separators for 3.1.1, the Appendix B form of the body's MQTT 5.0 spelling", () => {
    const ids = v311Ids;
    expect(conformance.suggestId("MQTT-3.8.3-4", ids)).toBe("MQTT-3-8.3-4");
    expect(conformance.suggestId("MQTT-3.1.2-7", ids)).toBe("MQTT-3.1.2.7");
    expect(conformance.suggestId("MQTT-3.6.4-1", ids)).toBeNull();
    expect(conformance.suggestId("MQTT-4.2-1", v5Ids, V5.aliases)).toBe("MQTT-4.2.0-1");
    expect(conformance.suggestId("MQTT-3.1.2.7", v5Ids, V5.aliases)).toBe("MQTT-3.1.2-7");
  });

  it("derives sections from ids, with each version's irregular spellings", () => {
    expect(conformance.sectionOfId("MQTT-1.5.3-1")).toBe("1.5.3");
    expect(conformance.sectionOfId("MQTT-3.1.0-2")).toBe("3.1");
    expect(conformance.sectionOfId("MQTT-6.0.0-4")).toBe("6");
    expect(conformance.sectionOfId("MQTT-3-8.3-4")).toBe("3.8.3");
    expect(conformance.sectionOfId("MQTT-3.1.2.7")).toBe("3.1.2");
    expect(conformance.sectionOfId("MQTT-3.1.2.7", V5)).toBeNull();
    expect(conformance.sectionOfId("MQTT-4.2.0-1", V5)).toBe("4.2");
    expect(conformance.sectionOfId("MQTT-3.1")).toBeNull();
    expect(conformance.isWellFormedId("MQTT-3.1.2-0")).toBe(false);
  });
});
