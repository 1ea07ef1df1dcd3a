"""Who a console user is to the gateway: the principal their chats, stores and bench runs use.

A console action that reaches the gateway or owns data acts as
``key_id = "console:<user id>"`` in the user's tenant, under the tenant's
privacy policy (the server's default for an admin, who has no tenant): its
ledger rows are billed to that tenant and findable by that key id.
"""

from __future__ import annotations

from plinth.auth import Principal
from plinth.console.web import Ctx


async def principal_of(ctx: Ctx) -> Principal:
    assert ctx.user is not None
    policy = None
    if ctx.user.tenant_id is not None:
        tenant = await ctx.svc.db.run(ctx.svc.tenants.get, ctx.user.tenant_id)
        policy = tenant.privacy_policy
    return Principal(
        key_id="console:" + ctx.user.id,
        name="console " + ctx.user.name,
        is_admin=False,
        privacy_policy=policy,
        tenant_id=ctx.user.tenant_id,
    )
