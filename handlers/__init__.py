"""aiogram routers, one module per role or feature; `setup_routers` fixes their order.

Order matters: specific routers first (binding by deep link, role features), the
fallback router last so it only sees what nobody else handled.
"""

from __future__ import annotations

from aiogram import Router


def setup_routers() -> Router:
    from handlers import (
        admin_policy,
        benefits,
        binding,
        broadcasts,
        cadre_questions,
        common,
        errors,
        fallback,
        hardship,
        households,
        milestones,
        policy,
        reports,
        reports_audit,
        topics,
        visits,
    )

    root = Router(name="root")
    routers = (
        errors.router,
        binding.router,
        common.router,
        admin_policy.router,
        topics.router,
        benefits.router,
        cadre_questions.router,
        households.router,
        visits.router,
        milestones.router,
        hardship.router,
        broadcasts.router,
        reports.router,
        reports_audit.router,
        policy.router,  # free text = a policy question (no dialog state set): keep it last but one
        fallback.router,
    )
    for router in routers:
        _detach(router)
    root.include_routers(*routers)
    return root


def _detach(router: Router) -> None:
    """Free a module-level router from a previous root.

    aiogram lets a router have one parent; a process that builds a second dispatcher
    (tests, the sandbox after a restart) would otherwise fail with 'already attached'.
    """
    parent = router.parent_router
    if parent is not None:
        parent.sub_routers.remove(router)
        router._parent_router = None
