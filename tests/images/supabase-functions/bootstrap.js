// Contract double of supabase/edge-runtime (tests only; see tests/images/CONTRACTS.md): runs the
// main service's own index.ts in a real Deno and gives it the EdgeRuntime.userWorkers API it calls.
//
// In edge-runtime (supabase/edge-runtime @ v1.74.0, crates/base/src/worker/) main and each user worker
// are separate isolates; here a user worker is the module <servicePath>/index.ts imported into this
// isolate, its Deno.serve handler captured instead of listening. Main's Deno.serve listens on --ip and
// --port (cli/src/flags.rs:93-104). A servicePath without index.ts fails to boot like
// crates/base/src/runtime/mod.rs:588 ("could not find an appropriate entrypoint", with the
// "worker boot error" context of crates/base/src/worker/worker_inner.rs:250).
const MAIN = Deno.env.get("EDGE_DOUBLE_MAIN_SERVICE");
const HOST = Deno.env.get("EDGE_DOUBLE_IP") ?? "0.0.0.0";
const PORT = Number(Deno.env.get("EDGE_DOUBLE_PORT") ?? "9000");
for (const name of ["EDGE_DOUBLE_MAIN_SERVICE", "EDGE_DOUBLE_IP", "EDGE_DOUBLE_PORT"]) Deno.env.delete(name);

const listen = Deno.serve.bind(Deno);
let capture = null;
const handlers = new Map();
let booting = Promise.resolve();

function handlerOf(args) {
  for (const arg of args) {
    if (typeof arg === "function") return arg;
    if (arg && typeof arg === "object" && typeof arg.handler === "function") return arg.handler;
  }
  return null;
}

Deno.serve = (...args) => {
  const handler = handlerOf(args);
  if (capture) {
    capture(handler);
    return { finished: new Promise(() => {}), shutdown: async () => {}, ref() {}, unref() {},
             addr: { transport: "tcp", hostname: HOST, port: PORT } };
  }
  return listen({
    hostname: HOST,
    port: PORT,
    onListen: ({ hostname, port }) => console.log(`[edge-runtime-double] main worker listening on ${hostname}:${port}`),
  }, handler);
};

async function exists(path) {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function boot(servicePath) {
  const entry = `${servicePath.replace(/\/+$/, "")}/index.ts`;
  if (!(await exists(entry))) throw new Error("worker boot error: could not find an appropriate entrypoint");
  let handler = null;
  capture = (h) => { handler = h; };
  try {
    await import(new URL(`file://${entry}`).href);
  } catch (error) {
    throw new Error(`worker boot error: ${error?.message ?? error}`);
  } finally {
    capture = null;
  }
  if (!handler) throw new Error("worker boot error: the worker did not call Deno.serve");
  console.log(`[edge-runtime-double] user worker booted: ${servicePath}`);
  return handler;
}

globalThis.EdgeRuntime = {
  userWorkers: {
    async create(options) {
      const servicePath = options?.servicePath;
      if (typeof servicePath !== "string" || !servicePath) throw new TypeError("servicePath is required");
      if (!handlers.has(servicePath)) {
        const task = booting.then(() => boot(servicePath));
        booting = task.catch(() => {});
        handlers.set(servicePath, task);
        task.catch(() => handlers.delete(servicePath));
      }
      const handler = await handlers.get(servicePath);
      return { fetch: async (request) => await handler(request) };
    },
  },
};

const mainEntry = `${MAIN.replace(/\/+$/, "")}/index.ts`;
if (!(await exists(mainEntry))) {
  console.error("main worker boot error: could not find an appropriate entrypoint");
  Deno.exit(1);
}
await import(new URL(`file://${mainEntry}`).href);
