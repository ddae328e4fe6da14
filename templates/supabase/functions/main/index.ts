// Entry point of the Supabase Edge Functions runtime (full set). Each request to
// /functions/v1/<name> is served by the worker in functions/<name>/index.ts.
// deno-lint-ignore-file no-explicit-any
Deno.serve(async (req: Request) => {
  const name = new URL(req.url).pathname.split("/").filter(Boolean)[0];
  if (!name || name === "main") {
    return new Response(JSON.stringify({ message: "name a function: /functions/v1/<name>" }), {
      status: 400,
      headers: { "Content-Type": "application/json" },
    });
  }
  try {
    const worker = await (globalThis as any).EdgeRuntime.userWorkers.create({
      servicePath: `/home/deno/functions/${name}`,
      memoryLimitMb: 150,
      workerTimeoutMs: 60_000,
      noModuleCache: false,
      envVars: Object.entries(Deno.env.toObject()),
    });
    return await worker.fetch(req);
  } catch (error) {
    return new Response(JSON.stringify({ message: String(error) }), {
      status: 500,
      headers: { "Content-Type": "application/json" },
    });
  }
});
