"""Contract double of ghcr.io/open-webui/open-webui v0.12.4 (PyPI open-webui==0.12.4 wheel).

What the stack relies on, point by point like the real program (file:line of the wheel):
- config: every key comes from the environment at start (config.py DEFAULT_CONFIG, :2923-3349);
  with ENABLE_PERSISTENT_CONFIG (config.py:3352, default true) every start first SEEDS the keys
  missing from the `config` table (main.py:388 -> config.py:43-46 -> models/config.py:248-273),
  and the table wins afterwards (models/config.py:143-149). With it false, reads and writes use the
  in-memory defaults only (models/config.py:136-137, :145-146, :205-208).
- an admin from WEBUI_ADMIN_EMAIL/WEBUI_ADMIN_PASSWORD when there is no user yet, then sign-up
  off (main.py:401-404, utils/auth.py:631-662); the first sign-up is admin and turns sign-up off
  (routers/auths.py:813-834); later sign-ups need ui.enable_signup (routers/auths.py:861-870).
- no validation of URLs at start: config.py reads them with os.getenv only (:247, :1224).
"""
from __future__ import annotations

import ast
import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from pathlib import Path

from doublelib.common import JWTError, bearer, env, html, jwt_sign, jwt_verify, log, reply, serve, setup

VERSION = "0.12.4"
DATA = Path(env("DATA_DIR", "/app/backend/data"))
KEY_FILE = Path(env("WEBUI_SECRET_KEY_FILE") or DATA / ".webui_secret_key")
# constants.py:54, :60, :71-78, :79
ID_TAKEN = "Uh-oh! This id is already registered. Please choose another id string."
INVALID_CRED = ("The email or password provided is incorrect. Please check for typos and try logging in "
                "again.")
ACCESS_PROHIBITED = "You do not have permission to access this resource. Please contact your administrator " \
                    "for assistance."
NOT_FOUND = "We could not find what you're looking for :/"
FUNCTION_CLASSES = ("Pipe", "Filter", "Action", "Event")  # utils/plugin.py:297-306


def flag(name: str, default: str) -> bool:
    """Open WebUI reads booleans as `os.getenv(NAME, default).lower() == 'true'`."""
    return env(name, default).lower() == "true"


def env_defaults() -> dict[str, object]:
    """The keys of DEFAULT_CONFIG the stack cares about, read like config.py does."""
    base = env("OLLAMA_BASE_URL").removesuffix("/")  # config.py:247-250
    urls = env("OLLAMA_BASE_URLS") or base or "http://localhost:11434"  # config.py:302-305
    return {
        "ollama.enable": flag("ENABLE_OLLAMA_API", "True"),           # config.py:230
        "ollama.base_urls": [u.strip() for u in urls.split(";")],
        "ollama.api_configs": {},
        "openai.enable": flag("ENABLE_OPENAI_API", "True"),           # config.py:325
        "web.search.enable": flag("ENABLE_WEB_SEARCH", "False"),      # config.py:1168
        "web.search.engine": env("WEB_SEARCH_ENGINE"),                # config.py:1177
        "web.search.searxng_query_url": env("SEARXNG_QUERY_URL"),     # config.py:1224
        "rag.embedding_engine": env("RAG_EMBEDDING_ENGINE"),          # config.py:1009
        "rag.embedding_model": env("RAG_EMBEDDING_MODEL", "sentence-transformers/all-MiniLM-L6-v2"),
        "rag.ollama.base_url": env("RAG_OLLAMA_BASE_URL", base),      # config.py:1112
        "webui.url": env("WEBUI_URL"),                                # config.py:1689
        "ui.enable_signup": flag("ENABLE_SIGNUP", "True"),            # config.py:1692
        "ui.enable_login_form": flag("ENABLE_LOGIN_FORM", "True"),
        "ui.default_user_role": env("DEFAULT_USER_ROLE", "pending"),  # config.py:1754
    }


class Config:
    """models/config.py: per-key rows; persistence switched by ENABLE_PERSISTENT_CONFIG."""

    def __init__(self, db: Path, defaults: dict[str, object]) -> None:
        self.db, self.defaults = db, defaults
        self.persistent = flag("ENABLE_PERSISTENT_CONFIG", "True")  # config.py:3352

    def seed(self) -> None:
        if not self.persistent:
            return
        with sqlite3.connect(self.db) as db:
            existing = {row[0] for row in db.execute("SELECT key FROM config")}
            new = [(k, json.dumps(v), int(time.time())) for k, v in self.defaults.items() if k not in existing]
            db.executemany("INSERT INTO config (key, value, updated_at) VALUES (?, ?, ?)", new)
        if new:
            log(f"Seeded {len(new)} new config defaults")

    def get(self, key: str) -> object:
        if not self.persistent:
            return self.defaults.get(key)
        with sqlite3.connect(self.db) as db:
            row = db.execute("SELECT value FROM config WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else self.defaults.get(key)

    def upsert(self, updates: dict[str, object]) -> None:
        if not self.persistent:
            self.defaults.update(updates)
            return
        with sqlite3.connect(self.db) as db:
            for key, value in updates.items():
                db.execute("INSERT INTO config (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO "
                           "UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                           (key, json.dumps(value), int(time.time())))


def secret_key() -> str:
    """Like start.sh: with no WEBUI_SECRET_KEY, generate one once and keep it in the data volume."""
    if env("WEBUI_SECRET_KEY") or env("WEBUI_JWT_SECRET_KEY"):
        log("using WEBUI_SECRET_KEY from the environment")
        return env("WEBUI_SECRET_KEY") or env("WEBUI_JWT_SECRET_KEY")
    if KEY_FILE.is_file() and KEY_FILE.read_text().strip():
        log(f"using the secret key stored in {KEY_FILE}")
        return KEY_FILE.read_text().strip()
    KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    KEY_FILE.write_text(secrets.token_urlsafe(12))
    KEY_FILE.chmod(0o600)
    log(f"WEBUI_SECRET_KEY is empty: generated one into {KEY_FILE}")
    return KEY_FILE.read_text().strip()


def open_db() -> Path:
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / "webui.db"
    new = not path.exists()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER)")
        db.execute("CREATE TABLE IF NOT EXISTS user (id TEXT PRIMARY KEY, email TEXT UNIQUE, name TEXT, role TEXT, "
                   "password TEXT, created_at INTEGER)")
        db.execute("CREATE TABLE IF NOT EXISTS function (id TEXT PRIMARY KEY, user_id TEXT, name TEXT, type TEXT, "
                   "content TEXT, meta TEXT, valves TEXT, is_active INTEGER, is_global INTEGER, "
                   "updated_at INTEGER, created_at INTEGER)")
    log(f"{'created' if new else 'opened'} {path}")
    return path


def _hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def valves_fields(content: str) -> dict[str, str]:
    """Annotated fields of the module's <Class>.Valves, name -> annotation text (for type checks)."""
    for node in ast.parse(content).body:
        if isinstance(node, ast.ClassDef) and node.name in FUNCTION_CLASSES:
            for inner in node.body:
                if isinstance(inner, ast.ClassDef) and inner.name == "Valves":
                    return {f.target.id: ast.unparse(f.annotation) for f in inner.body
                            if isinstance(f, ast.AnnAssign) and isinstance(f.target, ast.Name)}
    return {}


def function_type(content: str) -> str:
    """load_function_module_by_id (utils/plugin.py:291-306): exec, then the first class found."""
    try:
        tree = ast.parse(content)
        compile(tree, "<function>", "exec")
    except SyntaxError as exc:
        raise ValueError(f"invalid syntax ({exc.msg}, line {exc.lineno})") from exc
    names = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    for cls in FUNCTION_CLASSES:
        if cls in names:
            return cls.lower()
    raise ValueError("No Function class found in the module")


def check_valve(annotation: str, value: object) -> bool:
    """Pydantic's lax mode for the simple annotations a Valves class uses."""
    if annotation == "str":
        return isinstance(value, str)
    if annotation == "int":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.strip().lstrip("-").isdigit())
    if annotation == "bool":
        return isinstance(value, bool) or value in (0, 1, "true", "false", "True", "False", "0", "1")
    return True


class App:
    def __init__(self) -> None:
        self.key = secret_key()
        self.db = open_db()
        self.config = Config(self.db, env_defaults())
        self.config.seed()  # main.py:388
        email, password = env("WEBUI_ADMIN_EMAIL"), env("WEBUI_ADMIN_PASSWORD")
        if email and password and self.num_users() == 0:  # main.py:401-404, utils/auth.py:641
            self.insert_user(email, password, env("WEBUI_ADMIN_NAME", "Admin"), "admin")
            log(f"Admin account created successfully: {email}")
            self.config.upsert({"ui.enable_signup": False})
        name = env("WEBUI_NAME", "Open WebUI")
        self.name = name if name == "Open WebUI" else f"{name} (Open WebUI)"  # env.py:969-971
        log(f"ollama={self.config.get('ollama.base_urls')} web_search={self.config.get('web.search.enable')} "
            f"engine={self.config.get('web.search.engine') or '-'} openai={self.config.get('openai.enable')}")

    # -- users -----------------------------------------------------------------------------------
    def sql(self, query: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db) as db:
            return db.execute(query, args).fetchall()

    def num_users(self) -> int:
        return int(self.sql("SELECT count(*) FROM user")[0][0])  # type: ignore[arg-type]

    def insert_user(self, email: str, password: str, name: str, role: str) -> str:
        user_id = str(uuid.uuid4())
        self.sql("INSERT INTO user VALUES (?, ?, ?, ?, ?, ?)",
                 (user_id, email.lower(), name, role, _hash(password), int(time.time())))
        return user_id

    def user(self, request) -> dict[str, object] | None:  # noqa: ANN001 - doublelib Request
        token = bearer(request) or request.header("cookie").partition("token=")[2].split(";")[0]
        if not token:
            return None
        try:
            claims = jwt_verify(token, self.key)
        except JWTError:
            return None
        rows = self.sql("SELECT id, email, name, role FROM user WHERE id = ?", (str(claims.get("id")),))
        return dict(zip(("id", "email", "name", "role"), rows[0], strict=True)) if rows else None

    def signin_response(self, user_id: str) -> object:
        row = self.sql("SELECT id, email, name, role FROM user WHERE id = ?", (user_id,))[0]
        token = jwt_sign({"id": user_id, "jti": str(uuid.uuid4())}, self.key)
        return reply(200, {"token": token, "token_type": "Bearer", "id": row[0], "email": row[1], "name": row[2],
                           "role": row[3], "profile_image_url": "/user.png"},
                     {"Set-Cookie": f"token={token}; HttpOnly; Path=/; SameSite=lax"})

    def signin(self, body: object) -> object:
        """routers/auths.py:663-775 (password branch): 400 INVALID_CRED on a wrong email or password."""
        if not isinstance(body, dict) or not isinstance(body.get("email"), str) or \
                not isinstance(body.get("password"), str):
            return reply(422, {"detail": "email and password are required"})
        rows = self.sql("SELECT id FROM user WHERE email = ? AND password = ?",
                        (body["email"].lower(), _hash(body["password"])))
        if not rows:
            return reply(400, {"detail": INVALID_CRED})
        log(f"signed in {body['email'].lower()}")
        return self.signin_response(str(rows[0][0]))

    def signup(self, body: object) -> object:
        """routers/auths.py:854-907 and signup_handler :796-851."""
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("name", "email", "password")):
            return reply(422, {"detail": "name, email and password are required"})
        has_users = self.num_users() > 0
        if has_users and not (self.config.get("ui.enable_signup") and self.config.get("ui.enable_login_form")):
            return reply(403, {"detail": ACCESS_PROHIBITED})
        email = body["email"].lower()
        if self.sql("SELECT 1 FROM user WHERE email = ?", (email,)):
            return reply(400, {"detail": "Uh-oh! This email is already registered. Sign in with your existing "
                                         "account or choose another email to start anew."})
        user_id = self.insert_user(email, body["password"], body["name"], str(self.config.get("ui.default_user_role")))
        if self.num_users() == 1:
            self.sql("UPDATE user SET role = 'admin' WHERE id = ?", (user_id,))
            self.config.upsert({"ui.enable_signup": False})
        log(f"signed up {email}")
        return self.signin_response(user_id)

    # -- config ----------------------------------------------------------------------------------
    def app_config(self, request) -> object:  # noqa: ANN001
        """main.py:2277-2440: sign-up flags for everyone; feature flags only for a signed-in user;
        a token that does not verify is refused (main.py:2291-2296)."""
        token = bearer(request) or request.header("cookie").partition("token=")[2].split(";")[0]
        if token:
            try:
                jwt_verify(token, self.key)
            except JWTError:
                return reply(401, {"detail": "Invalid token"})
        user = self.user(request)
        features: dict[str, object] = {"auth": True, "enable_signup": self.config.get("ui.enable_signup"),
                                       "enable_login_form": self.config.get("ui.enable_login_form")}
        if user is not None:
            features["enable_web_search"] = self.config.get("web.search.enable")
        payload: dict[str, object] = {"status": True, "name": self.name, "version": VERSION,
                                      "default_locale": "", "features": features}
        if user is None and self.num_users() == 0:
            payload = {"onboarding": True, **payload}
        return reply(200, payload)

    # -- functions (routers/functions.py) --------------------------------------------------------
    def function_row(self, function_id: str) -> dict[str, object] | None:
        rows = self.sql("SELECT id, user_id, name, type, content, meta, is_active, is_global, updated_at, "
                        "created_at FROM function WHERE id = ?", (function_id,))
        if not rows:
            return None
        keys = ("id", "user_id", "name", "type", "content", "meta", "is_active", "is_global", "updated_at",
                "created_at")
        row = dict(zip(keys, rows[0], strict=True))
        row["meta"] = json.loads(str(row["meta"]))
        row["is_active"], row["is_global"] = bool(row["is_active"]), bool(row["is_global"])
        return row

    @staticmethod
    def function_form(body: object) -> dict[str, object] | None:
        """FunctionForm (models/functions.py:104-109): id, name, content, meta required."""
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("id", "name", "content")) \
                or not isinstance(body.get("meta"), dict):
            return None
        return body

    def functions(self, request, user: dict[str, object]) -> object:  # noqa: ANN001
        parts = request.path.removeprefix("/api/v1/functions").strip("/").split("/")
        body = request.json()
        if request.method == "GET" and parts == [""]:
            return reply(200, [self.function_row(str(r[0])) for r in self.sql("SELECT id FROM function")])
        if request.method == "POST" and parts == ["create"]:
            form = self.function_form(body)
            if form is None:
                return reply(422, {"detail": "id, name, content and meta are required"})
            if not str(form["id"]).isidentifier():  # routers/functions.py:214-218
                return reply(400, {"detail": "Only alphanumeric characters and underscores are allowed in the id"})
            function_id = str(form["id"]).lower()
            if self.function_row(function_id):
                return reply(400, {"detail": ID_TAKEN})
            try:
                kind = function_type(str(form["content"]))
            except ValueError as exc:
                return reply(400, {"detail": f"[ERROR: {exc}]"})
            now = int(time.time())
            self.sql("INSERT INTO function VALUES (?, ?, ?, ?, ?, ?, NULL, 0, 0, ?, ?)",
                     (function_id, user["id"], form["name"], kind, form["content"], json.dumps(form["meta"]), now,
                      now))
            log(f"function {function_id} created ({kind}, inactive)")
            return reply(200, self.function_row(function_id))
        if len(parts) < 2 or parts[0] != "id":
            return reply(404, {"detail": "Not Found"})
        row = self.function_row(parts[1])
        if row is None:  # every /id/{id} route answers 401 NOT_FOUND (routers/functions.py:285-290)
            return reply(401, {"detail": NOT_FOUND})
        action = "/".join(parts[2:])
        if request.method == "GET" and action == "":
            return reply(200, row)
        if request.method == "POST" and action == "toggle":
            self.sql("UPDATE function SET is_active = ?, updated_at = ? WHERE id = ?",
                     (0 if row["is_active"] else 1, int(time.time()), row["id"]))
            log(f"function {row['id']} is_active={not row['is_active']}")
            return reply(200, self.function_row(str(row["id"])))
        if request.method == "POST" and action == "update":
            form = self.function_form(body)
            if form is None:
                return reply(422, {"detail": "id, name, content and meta are required"})
            try:
                kind = function_type(str(form["content"]))
            except ValueError as exc:
                return reply(400, {"detail": str(exc)})
            self.sql("UPDATE function SET name = ?, content = ?, meta = ?, type = ?, updated_at = ? WHERE id = ?",
                     (form["name"], form["content"], json.dumps(form["meta"]), kind, int(time.time()), row["id"]))
            log(f"function {row['id']} updated")
            return reply(200, self.function_row(str(row["id"])))
        if request.method == "GET" and action == "valves":
            valves = self.sql("SELECT valves FROM function WHERE id = ?", (row["id"],))[0][0]
            return reply(200, json.loads(str(valves)) if valves else {})
        if request.method == "POST" and action == "valves/update":
            return self.update_valves(row, body)
        return reply(405, {"detail": "Method Not Allowed"})

    def update_valves(self, row: dict[str, object], body: object) -> object:
        """routers/functions.py:527-576: Valves(**non-None values), model_dump(exclude_unset=True)."""
        fields = valves_fields(str(row["content"]))
        if not fields:
            return reply(401, {"detail": NOT_FOUND})
        if not isinstance(body, dict):
            return reply(422, {"detail": "a JSON object is required"})
        valves = {k: v for k, v in body.items() if v is not None and k in fields}  # pydantic ignores extras
        bad = [k for k, v in valves.items() if not check_valve(fields[k], v)]
        if bad:
            return reply(400, {"detail": f"[ERROR: validation error for Valves: {', '.join(bad)}]"})
        self.sql("UPDATE function SET valves = ? WHERE id = ?", (json.dumps(valves), row["id"]))
        log(f"function {row['id']} valves updated: {', '.join(sorted(valves))}")
        return reply(200, valves)

    # -- routing ---------------------------------------------------------------------------------
    def handle(self, request):  # noqa: ANN001, ANN201 - doublelib types
        path, method = request.path, request.method
        if method in ("GET", "HEAD") and path == "/health":
            return reply(200, {"status": True})
        if method == "GET" and path == "/health/db":
            self.sql("SELECT 1")
            return reply(200, {"status": True})
        if method == "GET" and path == "/api/version":
            return reply(200, {"version": VERSION, "deployment_id": ""})
        if method == "GET" and path == "/api/config":
            return self.app_config(request)
        if method == "POST" and path == "/api/v1/auths/signin":
            return self.signin(request.json())
        if method == "POST" and path == "/api/v1/auths/signup":
            return self.signup(request.json())
        if method in ("GET", "HEAD") and path in ("/", "/auth"):
            return html(200, f"<!doctype html><html><head><title>{self.name}</title></head>"
                             "<body><div id=app>Open WebUI (contract double)</div></body></html>")
        user = self.user(request)
        if path.startswith(("/api/v1/", "/ollama/")):
            if user is None:  # utils/auth.py get_current_user
                return reply(401, {"detail": "Not authenticated"})
        else:
            return reply(404, {"detail": "Not Found"})
        if method == "GET" and path == "/api/v1/auths/":
            return reply(200, user)
        if user["role"] != "admin":  # utils/auth.py:622-628
            return reply(401, {"detail": ACCESS_PROHIBITED})
        if path.startswith("/api/v1/functions"):
            return self.functions(request, user)
        if method == "GET" and path == "/ollama/config":  # routers/ollama.py:277-283
            return reply(200, {"ENABLE_OLLAMA_API": self.config.get("ollama.enable"),
                               "OLLAMA_BASE_URLS": self.config.get("ollama.base_urls"),
                               "OLLAMA_API_CONFIGS": self.config.get("ollama.api_configs")})
        if method == "POST" and path == "/ollama/config/update":  # routers/ollama.py:286-324
            body = request.json()
            if not isinstance(body, dict) or not isinstance(body.get("OLLAMA_BASE_URLS"), list) or \
                    not isinstance(body.get("OLLAMA_API_CONFIGS"), dict):
                return reply(422, {"detail": "OLLAMA_BASE_URLS and OLLAMA_API_CONFIGS are required"})
            self.config.upsert({"ollama.enable": body.get("ENABLE_OLLAMA_API"),
                                "ollama.base_urls": body["OLLAMA_BASE_URLS"],
                                "ollama.api_configs": body["OLLAMA_API_CONFIGS"]})
            log("admin saved the Ollama connection settings")
            return reply(200, {"ENABLE_OLLAMA_API": self.config.get("ollama.enable"),
                               "OLLAMA_BASE_URLS": self.config.get("ollama.base_urls"),
                               "OLLAMA_API_CONFIGS": self.config.get("ollama.api_configs")})
        return reply(404, {"detail": "Not Found"})


def main() -> None:
    setup("open-webui")
    app = App()
    serve(app.handle, int(env("PORT", "8080")), env("HOST", "0.0.0.0"), quiet=lambda r: r.path == "/health")


if __name__ == "__main__":
    main()
