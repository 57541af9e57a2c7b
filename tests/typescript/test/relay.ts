// Real relay-server processes (tests/src/bin/relay-server.rs) and TCP proxies
// in front of them, for the client's integration tests. run.sh builds the
// server and names it in TAGWIRE_RELAY_SERVER.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { createInterface } from "node:readline";
import WebSocket from "ws";
import type { Client, Status, WebSocketConstructor } from "tagwire";

/** The `ws` package's WebSocket as the client's constructor type (Node 20 has no global one). */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

export function relayBinary(): string {
  const path = process.env["TAGWIRE_RELAY_SERVER"];
  if (path === undefined || path === "") {
    throw new Error("TAGWIRE_RELAY_SERVER is not set: run tests/typescript/run.sh, which builds relay-server and sets it");
  }
  return path;
}

export interface Relay {
  /** `127.0.0.1:PORT`. */
  addr: string;
  process: ChildProcess;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Everything the server printed on stdout after the listening line ("drained"). */
  stdout: string[];
  stderr: string[];
  stop(): void;
}

/** Starts `relay-server 127.0.0.1:0 ARGS…` and waits for its `listening on ADDR` line. */
export async function startRelay(args: string[] = []): Promise<Relay> {
  const child = spawn(relayBinary(), ["127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (l) => stderr.push(l));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const addr = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const m = /^listening on (\S+)$/.exec(line);
      if (m?.[1] !== undefined) resolve(m[1]);
      else stdout.push(line);
    });
    child.on("error", reject);
    void exited.then((code) => reject(new Error(`relay-server exited (${code}) before listening: ${stderr.join("\n")}`)));
  });
  return {
    addr,
    process: child,
    exited,
    stdout,
    stderr,
    stop: () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

export interface Proxy {
  addr: string;
  /** Where new connections go (`host:port`); existing ones stay where they are. */
  backend: string;
  /** Connections whose upgrade was refused. */
  refused: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy to `backend`. With `refuseUpgrades`, it reads each
 * connection's first request head and answers `Upgrade: websocket` with 403
 * (as a proxy that blocks WebSockets does), forwarding everything else.
 */
export async function startProxy(backend: string, options: { refuseUpgrades?: boolean } = {}): Promise<Proxy> {
  const sockets = new Set<net.Socket>();
  const proxy: Proxy = {
    addr: "",
    backend,
    refused: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const forward = (client: net.Socket, head: Buffer): void => {
    const [host, port] = splitAddr(proxy.backend);
    const upstream = net.connect(port, host);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    if (options.refuseUpgrades !== true) {
      forward(client, Buffer.alloc(0));
      return;
    }
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      if (!head.includes("\r\n\r\n")) return;
      client.off("data", onData);
      client.pause();
      if (/^upgrade:\s*websocket\s*$/im.test(head.toString("latin1"))) {
        proxy.refused += 1;
        client.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\nConnection: close\r\n\r\nForbidden");
        return;
      }
      forward(client, head);
      client.resume();
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  proxy.addr = `127.0.0.1:${address.port}`;
  return proxy;
}

function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(":");
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

/** Resolves with the first event `pick` accepts, or rejects after `ms` (real time). */
export function waitFor<T, S, C, E extends "message" | "status">(
  client: Client<S, C>,
  event: E,
  pick: (value: E extends "message" ? S : Status) => T | undefined,
  what: string,
  ms = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}; status ${JSON.stringify(client.status)}`));
    }, ms);
    const off = client.on(event, ((value: E extends "message" ? S : Status) => {
      const picked = pick(value);
      if (picked !== undefined) {
        clearTimeout(timer);
        off();
        resolve(picked);
      }
    }) as never);
  });
}

/** Waits for the client's status to be `open` (now or later). */
export async function opened<S, C>(client: Client<S, C>, ms = 10_000): Promise<Status> {
  if (client.status.state === "open") return client.status;
  return waitFor(client, "status", (s) => (s.state === "open" ? s : undefined), "status open", ms);
}
