"""`accounts`: the logins start.py created for the user (they live in .env with the other secrets)."""
from __future__ import annotations

from dataclasses import dataclass

from stack.config.schema import BY_KEY
from stack.config.settings import Settings
from stack.services import by_name, enabled_services

# service -> (login setting, password setting, what the login is). A row shows only when both
# settings exist in the schema (n8n's come from the n8n side of the stack).
LOGINS: tuple[tuple[str, str, str, str], ...] = (
    ("open-webui", "WEBUI_ADMIN_EMAIL", "WEBUI_ADMIN_PASSWORD", "admin"),
    ("n8n", "N8N_OWNER_EMAIL", "N8N_OWNER_PASSWORD", "owner"),
    ("kong", "DASHBOARD_USERNAME", "DASHBOARD_PASSWORD", "Studio"),
)


@dataclass(frozen=True)
class Account:
    service: str
    role: str
    url: str
    login: str
    password: str


def accounts(settings: Settings) -> list[Account]:
    enabled = {s.name for s in enabled_services(settings)}
    rows = []
    for service, login_key, password_key, role in LOGINS:
        if service not in enabled or login_key not in BY_KEY or password_key not in BY_KEY:
            continue
        rows.append(Account(by_name(service).title, role, by_name(service).user_url(settings),
                            settings.values.get(login_key, ""), settings.values.get(password_key, "")))
    return rows
