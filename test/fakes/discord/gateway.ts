/**
 * The fake Discord gateway (ws, loopback, port 0): HELLO with a heartbeat interval, IDENTIFY
 * checked against the bot token, READY then GUILD_CREATE, heartbeat ACKs, and dispatches the
 * test asks for, only to sessions that identified with the intent an event needs (as Discord
 * does: without GUILD_MESSAGE_REACTIONS no reaction event arrives). RESUME is refused with INVALID_SESSION, which makes discord.js identify again.
 */
import type { AddressInfo } from "node:net";
import { GatewayOpcodes } from "discord.js";
import { WebSocketServer, type WebSocket } from "ws";

export interface GatewaySession {
  socket: WebSocket;
  sessionId: string;
  seq: number;
  isReady: boolean;
  /** The intents bitfield of the session's IDENTIFY. */
  intents: number;
}

export interface GatewayOptions {
  token: string;
  heartbeatIntervalMs: number;
  /** READY's `d` for a new session (the gateway adds session_id and resume_gateway_url). */
  ready: () => Record<string, unknown>;
  /** Dispatched right after READY, e.g. GUILD_CREATE. */
  afterReady: () => Array<{ t: string; d: unknown }>;
  onChange: () => void;
}

export interface FakeGateway {
  url: string;
  /** Every IDENTIFY's `d`, token included (tests check intents; the token stays in the fake). */
  identifies: Array<Record<string, unknown>>;
  heartbeats: number;
  sessions: GatewaySession[];
  /** Sends to every ready session, or only those whose intents include `requiredIntent`. */
  dispatch(t: string, d: unknown, requiredIntent?: number): void;
  close(): Promise<void>;
}

let sessionCounter = 0;

export async function startFakeGateway(options: GatewayOptions): Promise<FakeGateway> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const { port } = server.address() as AddressInfo;
  const url = `ws://127.0.0.1:${port}`;
  const gateway: FakeGateway = {
    url,
    identifies: [],
    heartbeats: 0,
    sessions: [],
    dispatch(t, d, requiredIntent) {
      for (const session of gateway.sessions) {
        if (session.isReady && (requiredIntent === undefined || (session.intents & requiredIntent) !== 0)) sendDispatch(session, t, d);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };

  function send(session: GatewaySession, payload: unknown): void {
    if (session.socket.readyState === session.socket.OPEN) session.socket.send(JSON.stringify(payload));
  }

  function sendDispatch(session: GatewaySession, t: string, d: unknown): void {
    session.seq++;
    send(session, { op: GatewayOpcodes.Dispatch, t, s: session.seq, d });
  }

  server.on("connection", (socket) => {
    const session: GatewaySession = { socket, sessionId: `session-${++sessionCounter}`, seq: 0, isReady: false, intents: 0 };
    gateway.sessions.push(session);
    socket.on("close", () => {
      gateway.sessions = gateway.sessions.filter((s) => s !== session);
      options.onChange();
    });
    socket.on("message", (raw) => {
      let payload: { op: number; d: any };
      try {
        payload = JSON.parse(String(raw));
      } catch {
        socket.close(4002, "Decode error");
        return;
      }
      switch (payload.op) {
        case GatewayOpcodes.Heartbeat:
          gateway.heartbeats++;
          send(session, { op: GatewayOpcodes.HeartbeatAck });
          break;
        case GatewayOpcodes.Identify:
          gateway.identifies.push(payload.d);
          if (payload.d?.token !== options.token) {
            socket.close(4004, "Authentication failed.");
            break;
          }
          session.isReady = true;
          session.intents = Number(payload.d?.intents ?? 0);
          sendDispatch(session, "READY", { ...options.ready(), session_id: session.sessionId, resume_gateway_url: url });
          for (const event of options.afterReady()) sendDispatch(session, event.t, event.d);
          break;
        case GatewayOpcodes.Resume:
          // Sessions do not survive in the fake: start over, as Discord does for a stale session.
          send(session, { op: GatewayOpcodes.InvalidSession, d: false });
          break;
        default:
          break;
      }
      options.onChange();
    });
    send(session, { op: GatewayOpcodes.Hello, d: { heartbeat_interval: options.heartbeatIntervalMs } });
  });

  return gateway;
}
