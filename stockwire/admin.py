"""Holds in the admin: to see who holds what until when, and to release a hold by hand.

Read only: a hold changes through stockwire.holds alone, which keeps the item's held count
in step (deleting or editing a row here would not).
"""

from django.contrib import admin, messages

from .errors import UnknownHold
from .holds import release
from .models import Hold


@admin.register(Hold)
class HoldAdmin(admin.ModelAdmin):
    list_display = ["id", "item_id", "user", "quantity", "state", "created_at", "expires_at"]
    list_filter = ["state"]
    list_select_related = ["user"]
    search_fields = ["=item_id"]
    actions = ["release_holds"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Release the selected holds (their units are for sale again)")
    def release_holds(self, request, queryset) -> None:
        released = 0
        for hold in queryset.filter(state=Hold.State.ACTIVE):
            try:
                release(hold.pk, user_id=hold.user_id)
            except UnknownHold:  # it ended meanwhile
                continue
            released += 1
        self.message_user(request, f"Released {released} holds.", messages.SUCCESS)
