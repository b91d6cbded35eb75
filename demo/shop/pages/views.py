"""Server-rendered pages.

Live quantities and presence are filled in by Stockwire's client ({% stockwire_script %});
holds, purchases and restocks go through the JSON API (shop/static/shop/shop.js).
"""

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render

from shop import selectors, services
from shop.errors import UsernameTaken
from shop.throttles import RegistrationRateThrottle

from .forms import LoginForm


@login_required
def catalog(request):
    items = selectors.with_alerts(selectors.catalog(), request.user)
    return render(
        request, "shop/catalog.html", {"items": items, "low_stock_at": settings.LOW_STOCK_AT}
    )


@login_required
def item(request, item_id: int):
    found = selectors.item(item_id)
    if found is None:
        raise Http404("No such item.")
    (found,) = selectors.with_alerts([found], request.user)
    return render(request, "shop/item.html", {"item": found, "low_stock_at": settings.LOW_STOCK_AT})


@login_required
def orders(request):
    return render(request, "shop/orders.html", {"orders": selectors.orders_of(request.user)[:100]})


@login_required
def stock_room(request):
    # The API refuses restocks by non-staff too (services.restock); this spares them the page.
    if not request.user.is_staff:
        raise PermissionDenied
    return render(request, "shop/stock_room.html", {"items": selectors.catalog()})


def register(request):
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and not (throttle := RegistrationRateThrottle()).allow_request(
        request, None
    ):
        wait = throttle.wait() or 0
        form.add_error(None, f"Too many new accounts from your address; try again in {wait:.0f} s.")
        return render(request, "registration/register.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.register(
                username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except UsernameTaken as error:
            form.add_error("username", error.detail)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("catalog")
    return render(request, "registration/register.html", {"form": form})


class LoginView(auth_views.LoginView):
    """Django's login page, answering 429 with Retry-After while logins are held back."""

    form_class = LoginForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.retry_after:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
