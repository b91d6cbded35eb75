"""Holds and back-in-stock alerts in the admin: who holds what until when, who waits for
which item and whether they were told; a hold released or an alert cancelled by hand.

Read only: holds and alerts change through stockwire.holds and stockwire.alerts alone, which
keep the item's held count and the alerts' states in step (editing a row here would not).
"""

from django.contrib import admin, messages

from .alerts import cancel_alert
from .errors import UnknownAlert, UnknownHold
from .holds import release
from .models import Alert, Hold


class ReadOnlyAdmin(admin.ModelAdmin):
    list_filter = ["state"]
    list_select_related = ["user"]
    search_fields = ["=item_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "item_id", "user", "quantity", "state", "created_at", "expires_at"]
    actions = ["release_holds"]

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


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["id", "item_id", "user", "state", "created_at", "fired_at", "ended_at"]
    actions = ["cancel_alerts"]

    @admin.action(description="Cancel the selected waiting alerts (nobody is told)")
    def cancel_alerts(self, request, queryset) -> None:
        cancelled = 0
        for waiting in queryset.filter(state=Alert.State.WAITING):
            try:
                cancel_alert(waiting.pk, user_id=waiting.user_id)
            except UnknownAlert:  # it fired or ended meanwhile
                continue
            cancelled += 1
        self.message_user(request, f"Cancelled {cancelled} alerts.", messages.SUCCESS)
