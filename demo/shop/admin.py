"""The admin manages the catalog; stock moves only through shop.services, with an audit row."""

from django import forms
from django.contrib import admin, messages

from . import services
from .errors import ShopError
from .models import Item, Order, StockMovement
from .pages.forms import AdminLoginForm

# The admin's login is held to the same failed-login limits as the shop's (shop/logins.py).
admin.site.login_form = AdminLoginForm


class ItemForm(forms.ModelForm):
    restock_by = forms.IntegerField(
        required=False, min_value=1, max_value=services.MAX_QUANTITY, help_text="Units delivered."
    )
    set_quantity_to = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=services.MAX_QUANTITY,
        help_text="Counted stock level (a stocktake correction).",
    )

    class Meta:
        model = Item
        fields = ["sku", "name", "price"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    form = ItemForm
    list_display = ["sku", "name", "price", "quantity", "held", "available", "version"]
    search_fields = ["sku", "name"]
    readonly_fields = ["quantity", "held", "version"]

    def get_fields(self, request, obj=None):
        stock = (
            ["quantity", "held", "version", "restock_by", "set_quantity_to"]
            if obj
            else ["set_quantity_to"]
        )
        return ["sku", "name", "price", *stock]

    def save_model(self, request, obj, form, change):
        counted = form.cleaned_data.get("set_quantity_to")
        if not change:
            created = services.create_item(
                actor=request.user,
                sku=obj.sku,
                name=obj.name,
                price=obj.price,
                quantity=counted or 0,
            )
            obj.pk = created.pk
            return
        obj.save(update_fields=["sku", "name", "price"])
        try:
            if counted is not None:
                services.adjust(actor=request.user, item_id=obj.pk, quantity=counted)
            if form.cleaned_data.get("restock_by"):
                services.restock(
                    actor=request.user, item_id=obj.pk, quantity=form.cleaned_data["restock_by"]
                )
        except ShopError as error:
            self.message_user(request, error.detail, messages.ERROR)
        obj.refresh_from_db()


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "item", "quantity", "unit_price", "created_at"]
    list_select_related = ["user", "item"]
    list_filter = ["created_at"]
    search_fields = ["user__username", "item__sku"]


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "item",
        "reason",
        "delta",
        "quantity_after",
        "version",
        "actor",
        "created_at",
    ]
    list_select_related = ["item", "actor"]
    list_filter = ["reason"]
    search_fields = ["item__sku"]
