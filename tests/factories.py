from __future__ import annotations

import factory
from allauth.account.models import EmailAddress

from members.models import Member


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"member{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def verified(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        if create and extracted is not False:
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)
        if create:
            self.save()


def dashboard_render_forced(member: Member) -> None:
    """Move the member's page version so the next dashboard view renders its cards instead of
    reading the cached fragment (query budgets measure the render)."""
    from django.db.models import F

    from portal.models import PageVersion

    assert PageVersion.objects.filter(scope=member.pk).update(version=F("version") + 1) == 1
