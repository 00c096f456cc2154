import { describe, expect, it } from "vitest";
import { BackendError, describeError } from "../../core/errors.ts";
import { redactSecrets, rememberSecrets } from "../../core/secrets.ts";

const KEY = "sk-proj-AbCdEf0123456789WXYZ";
rememberSecrets(KEY, "xoxb-1111-2222-SLACKBOTTOKEN", "discord-bot-token-0123456789");

describe("redactSecrets", () => {
  it.each([
    ["whole", `Incorrect API key provided: ${KEY}.`],
    ["masked with stars, as OpenAI does", "Incorrect API key provided: sk-proj-********************WXYZ."],
    ["masked with dots", "key sk-...XYZ is invalid"],
    ["masked keeping only the end", "key ****WXYZ is invalid"],
    ["masked keeping the start", "key sk-proj-Ab... is invalid"],
    ["in a bearer header", "Authorization: Bearer abc.def-0123456789"],
  ])("removes a key echoed %s", (_how, text) => {
    const out = redactSecrets(text);
    expect(out).toContain("[redacted]");
    expect(out).not.toMatch(/WXYZ|XYZ|AbCdEf|abc\.def/);
  });

  it("removes a Slack or Discord token it was told about, and Slack-shaped tokens it was not", () => {
    const out = redactSecrets("tokens: xoxb-1111-2222-SLACKBOTTOKEN discord-bot-token-0123456789 xapp-1-A0-unknown-0123456789");
    expect(out).not.toMatch(/SLACKBOTTOKEN|discord-bot-token|unknown-0123/);
  });

  it("leaves ordinary text, ellipses included, alone", () => {
    const text = "The cube is red... the sphere is missing. Try again in 5 s.";
    expect(redactSecrets(text)).toBe(text);
  });
});

describe("errors never carry a secret", () => {
  it("scrubs the message of every typed error when it is built", () => {
    expect(new BackendError(`The server said: invalid key ${KEY}`, "mllm").message).toBe("The server said: invalid key [redacted]");
  });

  it("scrubs the one-line description of any thrown value", () => {
    expect(describeError(new Error(`boom ${KEY}\nsecond line`))).toBe("boom [redacted]");
  });
});
