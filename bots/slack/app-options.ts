/**
 * How the Bolt app talks to Slack: Socket Mode when an app-level token is set (no public URL
 * needed), else HTTP with the signing secret on SLACK_PORT. SLACK_API_URL points the Web API
 * client elsewhere (a proxy, or the fake Slack in tests); Socket Mode's connection call uses the
 * same client options.
 */
import { LogLevel, webApi, type AppOptions, type Logger as BoltLogger } from "@slack/bolt";

export interface SlackConnectionConfig {
  botToken: string;
  signingSecret?: string | undefined;
  appToken?: string | undefined;
  apiUrl?: string | undefined;
  port: number;
  /** Interface the HTTP receiver binds to; all interfaces when unset. Tests use 127.0.0.1. */
  host?: string | undefined;
}

export type ReceiverMode = "socket" | "http";

/** Socket Mode when there is an app token; HTTP when there is a signing secret; else a config error. */
export function receiverModeOf(config: SlackConnectionConfig): ReceiverMode {
  if (config.appToken) return "socket";
  if (config.signingSecret) return "http";
  throw new Error("Slack needs SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode); neither is set.");
}

export interface ClientTuning {
  /** How the WebClient retries failed and rate-limited calls; default five retries within five minutes. */
  retryConfig?: webApi.RetryOptions;
  /** Per request; default 30 s. */
  timeoutMs?: number;
}

const REQUEST_TIMEOUT_MS = 30_000;

export function appOptionsFor(config: SlackConnectionConfig, logger: BoltLogger, tuning: ClientTuning = {}): AppOptions {
  const mode = receiverModeOf(config);
  const clientOptions: webApi.WebClientOptions = {
    ...(config.apiUrl ? { slackApiUrl: `${config.apiUrl.replace(/\/+$/, "")}/` } : {}),
    // The WebClient's own default keeps retrying for about 30 minutes. Past a few minutes the job
    // service's redelivery (with its own backoff) is the better retry, and a stop is not held up.
    retryConfig: tuning.retryConfig ?? webApi.retryPolicies.fiveRetriesInFiveMinutes,
    // The WebClient waits forever by default; one hung connection would stall a job's thread.
    timeout: tuning.timeoutMs ?? REQUEST_TIMEOUT_MS,
    // The original axios error carries the request's headers, bot token included.
    attachOriginalToWebAPIRequestError: false,
  };
  const common: AppOptions = {
    token: config.botToken,
    logger,
    logLevel: logger.getLevel() ?? LogLevel.INFO,
    clientOptions,
    // auth.test runs in start(), where a bad token can fail start-up, not in the constructor.
    deferInitialization: true,
    // Bolt's per-conversation state store is unused: jobs keep their own state.
    convoStore: false,
  };
  if (mode === "socket") return { ...common, socketMode: true, appToken: config.appToken };
  return { ...common, signingSecret: config.signingSecret, port: config.port };
}
