"""The "Partner auditors" group: the audit desk and the staff-managed partner data, nothing
else (auditors are staff, not superusers)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Partner auditors"
PERMISSIONS = [
    ("partners", "audit_application"),
    ("partners", "record_deposit"),
    ("partners", "view_application"),
    ("partners", "view_provider"),
    ("partners", "view_document"),
    ("partners", "view_depositentry"),
    ("partners", "view_auditevent"),
    ("partners", "view_identitycheck"),
    ("partners", "view_shop"),
    ("partners", "add_shop"),
    ("partners", "change_shop"),
    ("partners", "view_calendarday"),
    ("partners", "add_calendarday"),
    ("partners", "change_calendarday"),
    ("partners", "delete_calendarday"),
    ("partners", "view_partnerprogram"),
]


def forward(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _created = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


def backward(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("partners", "0002_ledgers_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, backward)]
