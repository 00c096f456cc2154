/**
 * A fake Socket Mode endpoint: the WebSocket that apps.connections.open points the app at.
 * Like Slack it greets with `hello`, sends envelopes ({envelope_id, type, payload,
 * accepts_response_payload}) and expects each to be acknowledged with {envelope_id, payload}.
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import type { FakeSlack } from "./fake-slack.ts";

export interface SocketAck {
  envelope_id: string;
  payload?: unknown;
}

export interface FakeSocketMode {
  /** Resolves once an app has connected and been greeted. */
  connected(): Promise<void>;
  /** Sends one envelope and resolves with the app's acknowledgement. */
  send(type: "slash_commands" | "interactive" | "events_api", payload: object): Promise<SocketAck>;
  close(): Promise<void>;
}

export async function startFakeSocketMode(fake: FakeSlack): Promise<FakeSocketMode> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const { port } = server.address() as AddressInfo;
  fake.setSocketModeUrl(`ws://127.0.0.1:${port}/link/?ticket=${randomUUID()}&app_id=A0GEMS`);

  let socket: WebSocket | null = null;
  const greeted: Array<() => void> = [];
  const pending = new Map<string, (ack: SocketAck) => void>();

  server.on("connection", (connection) => {
    socket = connection;
    connection.on("message", (data) => {
      const ack = JSON.parse(data.toString()) as SocketAck;
      pending.get(ack.envelope_id)?.(ack);
      pending.delete(ack.envelope_id);
    });
    connection.send(JSON.stringify({ type: "hello", num_connections: 1, debug_info: { host: "applink-fake", approximate_connection_time: 18060 }, connection_info: { app_id: "A0GEMS" } }));
    for (const resolve of greeted.splice(0)) resolve();
  });

  return {
    connected: () => (socket ? Promise.resolve() : new Promise((resolve) => greeted.push(resolve))),
    send(type, payload) {
      if (!socket) throw new Error("no app is connected");
      const envelopeId = randomUUID();
      const acked = new Promise<SocketAck>((resolve) => pending.set(envelopeId, resolve));
      socket.send(JSON.stringify({ envelope_id: envelopeId, type, payload, accepts_response_payload: type !== "events_api" }));
      return acked;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
