"""aiogram routers, one module per role or feature; `setup_routers` fixes their order.

Order matters: specific routers first (binding by deep link, role features), the
fallback router last so it only sees what nobody else handled.
"""

from __future__ import annotations

from aiogram import Router


def setup_routers() -> Router:
    from handlers import binding, common, errors, fallback

    root = Router(name="root")
    root.include_routers(errors.router, binding.router, common.router, fallback.router)
    return root
