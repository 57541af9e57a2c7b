// Real relay-server processes (tests/src/bin/relay-server.rs) and TCP proxies
// in front of them, for the client's integration tests. run.sh builds the
// server and names it in TAGWIRE_RELAY_SERVER (and evolution-server, which
// prints the same lines, in TAGWIRE_EVOLUTION_SERVER).
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { createInterface } from "node:readline";
import WebSocket from "ws";
import type { Client, ClientEvents, Status, WebSocketConstructor } from "tagwire";

/** The `ws` package's WebSocket as the client's constructor type (Node 20 has no global one). */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

/** The server binary named in environment variable `name` (run.sh sets it). */
export function serverBinary(name = "TAGWIRE_RELAY_SERVER"): string {
  const path = process.env[name];
  if (path === undefined || path === "") {
    throw new Error(`${name} is not set: run tests/typescript/run.sh, which builds the test servers and sets it`);
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
  /** Resolves with the first stdout line (from now on or already printed) `pick` accepts; rejects after `ms`. */
  line<T>(pick: (line: string) => T | undefined, what: string, ms?: number): Promise<T>;
  stderr: string[];
  stop(): void;
}

/** Starts `BINARY 127.0.0.1:0 ARGS…` (relay-server by default) and waits for its `listening on ADDR` line. */
export async function startRelay(args: string[] = [], binary = serverBinary()): Promise<Relay> {
  const child = spawn(binary, ["127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const stdout: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (l) => stderr.push(l));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const addr = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const m = /^listening on (\S+)$/.exec(line);
      if (m?.[1] !== undefined) resolve(m[1]);
      else {
        stdout.push(line);
        for (const w of [...watchers]) w(line);
      }
    });
    child.on("error", reject);
    void exited.then((code) => reject(new Error(`${binary} exited (${code}) before listening: ${stderr.join("\n")}`)));
  });
  const line = <T>(pick: (line: string) => T | undefined, what: string, ms = 10_000): Promise<T> => {
    for (const l of stdout) {
      const picked = pick(l);
      if (picked !== undefined) return Promise.resolve(picked);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        watchers.delete(watch);
        reject(new Error(`timed out after ${ms} ms waiting for ${what} on the server's stdout:\n${stdout.join("\n")}`));
      }, ms);
      const watch = (l: string): void => {
        const picked = pick(l);
        if (picked === undefined) return;
        clearTimeout(timer);
        watchers.delete(watch);
        resolve(picked);
      };
      watchers.add(watch);
    });
  };
  return {
    addr,
    process: child,
    exited,
    stdout,
    line,
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
export function waitFor<T, S, C, E extends keyof ClientEvents<S>>(
  client: Client<S, C>,
  event: E,
  pick: (value: ClientEvents<S>[E]) => T | undefined,
  what: string,
  ms = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}; status ${JSON.stringify(client.status)}`));
    }, ms);
    const off = client.on(event, (value) => {
      const picked = pick(value);
      if (picked !== undefined) {
        clearTimeout(timer);
        off();
        resolve(picked);
      }
    });
  });
}

/** Waits for the client's status to be `open` (now or later). */
export async function opened<S, C>(client: Client<S, C>, ms = 10_000): Promise<Status> {
  if (client.status.state === "open") return client.status;
  return waitFor(client, "status", (s) => (s.state === "open" ? s : undefined), "status open", ms);
}
