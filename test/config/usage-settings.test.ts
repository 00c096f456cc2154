import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { configLoaderIn } from "./load-config.ts";

const dir = mkdtempSync(join(tmpdir(), "gems-prices-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const { load, configError } = configLoaderIn(dir);

describe("usage settings", () => {
  it("has no prices and no quotas by default", () => {
    expect(load({}).usage).toEqual({ prices: { currency: "USD", models: {} }, quotas: { personDaily: null, channelDaily: null } });
  });

  it("reads a price table inline or from a file, and quotas in images or money", () => {
    const table = { currency: "EUR", models: { "gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6 }, "gpt-image-1": { image: 0.04 } } };
    writeFileSync(join(dir, "prices.json"), JSON.stringify(table));
    const fromFile = load({ GEMS_PRICES: "prices.json", GEMS_QUOTA_PERSON_DAILY: "50 images", GEMS_QUOTA_CHANNEL_DAILY: "5.50 eur" });
    expect(fromFile.usage.prices).toEqual(table);
    expect(fromFile.usage.quotas).toEqual({ personDaily: { kind: "images", images: 50 }, channelDaily: { kind: "money", amount: 5.5 } });
    const inline = load({ GEMS_PRICES: JSON.stringify({ models: { m: { image: 0.02 } } }), GEMS_QUOTA_PERSON_DAILY: "$5" });
    expect(inline.usage.prices.currency).toBe("USD");
    expect(inline.usage.quotas.personDaily).toEqual({ kind: "money", amount: 5 });
  });

  it("names the variable, the problem and an example, one line each", () => {
    expect(configError({ GEMS_PRICES: "{not json" })).toMatch(/^GEMS_PRICES: not valid JSON\. Example: GEMS_PRICES=\{"currency":"USD"/);
    expect(configError({ GEMS_PRICES: "missing.json" })).toMatch(/^GEMS_PRICES: cannot read the file "missing\.json"; give inline JSON or a readable path\./);
    expect(configError({ GEMS_PRICES: '{"models":{"m":{"ouput":1}}}' })).toMatch(/^GEMS_PRICES: models\.m: Unrecognized key: "ouput" \(prices are per 1M tokens/);
    expect(configError({ GEMS_QUOTA_PERSON_DAILY: "lots" })).toBe(
      'GEMS_QUOTA_PERSON_DAILY: must be a number of images or an amount of money (got "lots"). Example: GEMS_QUOTA_PERSON_DAILY="50 images" or GEMS_QUOTA_PERSON_DAILY="$5"',
    );
    expect(configError({ GEMS_QUOTA_CHANNEL_DAILY: "$5" })).toMatch(/^GEMS_QUOTA_CHANNEL_DAILY: a quota in money needs prices; set GEMS_PRICES/);
    const both = configError({ GEMS_PRICES: '{"currency":"EUR","models":{"m":{"image":1}}}', GEMS_QUOTA_PERSON_DAILY: "$5", GEMS_QUOTA_CHANNEL_DAILY: "x" });
    expect(both.split("\n")).toHaveLength(2);
    expect(both).toMatch(/^GEMS_QUOTA_PERSON_DAILY: the amount is in USD but GEMS_PRICES is in EUR/);
  });
});
