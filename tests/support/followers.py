"""Customers who follow the Official Account, for the dispatcher's race and crash tests."""

from __future__ import annotations

from datetime import datetime

from crm.extensions import db
from crm.models import CareTemplate, Customer, Group, Store, WeChatApp, WeChatIdentity
from crm.services.identity import phone_index


def followed_customers(fake, count: int, now: datetime) -> tuple[int, list[int]]:
    """A store whose group sends new-car care as a template, and ``count`` customers bound to
    openids that follow the (fake) account: (store id, customer ids), committed."""
    group = Group(name="集团", created_at=now)
    db.session.add(group)
    db.session.flush()
    store = Store(group_id=group.id, code="D01", name="发送店", created_at=now)
    db.session.add_all([store, CareTemplate(group_id=group.id, kind="new_car", template_id="t1")])
    db.session.flush()
    customer_ids = []
    for number in range(count):
        phone = f"+8613700000{number:03d}"
        customer = Customer(
            group_id=group.id,
            store_id=store.id,
            name=f"客户{number}",
            phone=phone,
            phone_index=phone_index(phone),
            created_at=now,
        )
        db.session.add(customer)
        db.session.flush()
        openid = f"o-follower-{number}"
        fake.subscribe(openid)
        db.session.add(
            WeChatIdentity(
                app=WeChatApp.OFFICIAL_ACCOUNT.value,
                openid=openid,
                customer_id=customer.id,
                subscribed=True,
                bound_at=now,
            )
        )
        customer_ids.append(customer.id)
    db.session.commit()
    return store.id, customer_ids
