/**
 * The usage settings' own parsers: GEMS_PRICES (a price table as JSON, or the path of a JSON
 * file) and the daily quotas GEMS_QUOTA_PERSON_DAILY / GEMS_QUOTA_CHANNEL_DAILY ("50 images",
 * "$5", "5 USD"). Each problem is one line: variable, what is wrong, an example.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { NO_PRICES, type PriceTable, type QuotaLimit, type Quotas } from "../core/jobs/usage-ledger.ts";
import { optionalText, type EnvOf } from "./env-fields.ts";

export const PRICES_EXAMPLE = `{"currency":"USD","models":{"gpt-4.1-mini":{"input":0.4,"cachedInput":0.1,"output":1.6},"gpt-image-1":{"image":0.04}}}`;

const amount = z.number().finite().nonnegative();
const priceTableSchema = z.strictObject({
  currency: z.string().trim().min(1).max(8).default("USD"),
  models: z.record(
    z.string().min(1),
    z.strictObject({ input: amount.optional(), cachedInput: amount.optional(), output: amount.optional(), image: amount.optional() }),
  ),
});

/** The price table from inline JSON or a file; a string is the problem. */
export function parsePrices(value: string | undefined, cwd: string): PriceTable | string | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const text = value.trim();
  let source = text;
  if (!text.startsWith("{")) {
    try {
      source = readFileSync(resolve(cwd, text), "utf8");
    } catch {
      return `GEMS_PRICES: cannot read the file ${JSON.stringify(text)}; give inline JSON or a readable path. Example: GEMS_PRICES=${PRICES_EXAMPLE}`;
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch {
    return `GEMS_PRICES: not valid JSON. Example: GEMS_PRICES=${PRICES_EXAMPLE}`;
  }
  const parsed = priceTableSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join(".") : "the table";
    return `GEMS_PRICES: ${where}: ${issue.message} (prices are per 1M tokens and per image, numbers ≥ 0; fields input, cachedInput, output, image). Example: GEMS_PRICES=${PRICES_EXAMPLE}`;
  }
  return parsed.data;
}

/** "50 images", "1 image", "$5", "5 USD", "2.50 EUR" (the currency must be the price table's). */
export function parseQuota(variable: string, value: string | undefined, currency: string): QuotaLimit | null | string {
  if (value === undefined || value.trim() === "" || value.trim() === "0" || value.trim().toLowerCase() === "off") return null;
  const text = value.trim();
  const example = `Example: ${variable}="50 images" or ${variable}="$5"`;
  const images = /^(\d+)\s*images?$/i.exec(text);
  if (images) return { kind: "images", images: Number(images[1]) };
  const money = /^(?:\$\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*([A-Za-z]{3}))$/.exec(text);
  if (!money) return `${variable}: must be a number of images or an amount of money (got ${JSON.stringify(text)}). ${example}`;
  const given = money[1] ?? money[2]!;
  const unit = money[1] !== undefined ? "USD" : money[3]!.toUpperCase();
  if (unit !== currency.toUpperCase() && !(currency === "$" && unit === "USD")) {
    return `${variable}: the amount is in ${unit} but GEMS_PRICES is in ${currency}; use the price table's currency. ${example}`;
  }
  return { kind: "money", amount: Number(given) };
}

export const USAGE_FIELDS = {
  // Parsed in loadConfig (config/usage-settings.ts): a file path needs the working directory.
  GEMS_PRICES: optionalText,
  GEMS_QUOTA_PERSON_DAILY: optionalText,
  GEMS_QUOTA_CHANNEL_DAILY: optionalText,
};

/** The price table and the daily quotas; each problem is one line in `problems`. */
export function usageOf(e: EnvOf<typeof USAGE_FIELDS>, cwd: string, problems: string[]): { prices: PriceTable; quotas: Quotas } {
  const parsed = parsePrices(e.GEMS_PRICES, cwd);
  if (typeof parsed === "string") problems.push(parsed);
  const prices = parsed && typeof parsed !== "string" ? parsed : NO_PRICES;
  const quotaOf = (variable: "GEMS_QUOTA_PERSON_DAILY" | "GEMS_QUOTA_CHANNEL_DAILY") => {
    const quota = parseQuota(variable, e[variable], prices.currency);
    if (typeof quota === "string") {
      problems.push(quota);
      return null;
    }
    if (quota?.kind === "money" && Object.keys(prices.models).length === 0) {
      problems.push(`${variable}: a quota in money needs prices; set GEMS_PRICES, or give the quota in images. Example: ${variable}="50 images"`);
      return null;
    }
    return quota;
  };
  return { prices, quotas: { personDaily: quotaOf("GEMS_QUOTA_PERSON_DAILY"), channelDaily: quotaOf("GEMS_QUOTA_CHANNEL_DAILY") } };
}
