// Entry point of the Supabase Edge Functions runtime (full set). Each request to
// /functions/v1/<name> is served by the worker in functions/<name>/index.ts.
//
// With VERIFY_JWT=true (what the stack renders) a request must carry `Authorization: Bearer <jwt>`
// signed HS256 with JWT_SECRET and not expired: the anon or service key, or a user's session
// token from Auth. Kong passes /functions/v1/ through without a key check, as Supabase's own
// gateway does, so this is the check. Only Web Crypto is used: nothing is fetched at start.
// deno-lint-ignore-file no-explicit-any

const VERIFY_JWT = Deno.env.get("VERIFY_JWT") === "true";
const JWT_SECRET = Deno.env.get("JWT_SECRET") ?? "";

type Refusal = { code: string; message: string };

const refuse = (code: string, message: string): Refusal => ({ code, message });

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...extra },
  });
}

function unauthorized({ code, message }: Refusal): Response {
  return json(401, { code, message, msg: message }, { "sb-error-code": code });
}

function base64url(part: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error("not base64url");
  const padded = part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function decodeJson(part: string): any {
  const value = JSON.parse(new TextDecoder().decode(base64url(part)));
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
  return value;
}

let hmacKey: Promise<CryptoKey> | null = null;

function secretKey(): Promise<CryptoKey> {
  hmacKey ??= crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(JWT_SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return hmacKey;
}

/** Why the request's token is refused, or null when it is a valid HS256 JWT signed with JWT_SECRET. */
export async function checkToken(authorization: string | null): Promise<Refusal | null> {
  if (!authorization) return refuse("UNAUTHORIZED_NO_AUTH_HEADER", "Missing authorization header");
  const [scheme, token, ...rest] = authorization.split(" ");
  if (scheme !== "Bearer" || !token || rest.length) {
    return refuse("UNAUTHORIZED_INVALID_JWT_FORMAT", "Invalid JWT format");
  }
  const parts = token.split(".");
  if (parts.length !== 3) return refuse("UNAUTHORIZED_INVALID_JWT_FORMAT", "Invalid JWT format");
  let header: any, claims: any, signature: Uint8Array;
  try {
    header = decodeJson(parts[0]);
    claims = decodeJson(parts[1]);
    signature = base64url(parts[2]);
  } catch {
    return refuse("UNAUTHORIZED_INVALID_JWT_FORMAT", "Invalid JWT format");
  }
  if (header.alg !== "HS256") {
    return refuse("UNAUTHORIZED_UNSUPPORTED_TOKEN_ALGORITHM", `Unsupported JWT algorithm ${header.alg}`);
  }
  if (!JWT_SECRET) {
    console.error("JWT_SECRET is not set: no token can be verified");
    return refuse("UNAUTHORIZED_LEGACY_JWT", "Invalid JWT");
  }
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  if (!(await crypto.subtle.verify("HMAC", await secretKey(), signature, signed))) {
    return refuse("UNAUTHORIZED_LEGACY_JWT", "Invalid JWT");
  }
  const now = Math.floor(Date.now() / 1000);
  if (claims.exp !== undefined && !(typeof claims.exp === "number" && claims.exp > now)) {
    return refuse("UNAUTHORIZED_LEGACY_JWT", "Invalid JWT");
  }
  if (claims.nbf !== undefined && !(typeof claims.nbf === "number" && claims.nbf <= now)) {
    return refuse("UNAUTHORIZED_LEGACY_JWT", "Invalid JWT");
  }
  return null;
}

export async function handle(req: Request): Promise<Response> {
  // CORS preflights carry no credentials; the function itself answers them.
  if (VERIFY_JWT && req.method !== "OPTIONS") {
    const refusal = await checkToken(req.headers.get("authorization"));
    if (refusal) return unauthorized(refusal);
  }
  const name = new URL(req.url).pathname.split("/").filter(Boolean)[0];
  if (!name || name === "main") {
    return json(400, { msg: "missing function name in request: /functions/v1/<name>" });
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
    return json(500, { msg: String(error) });
  }
}

Deno.serve(handle);
