"""The login forms of the pages and the admin, held to the failed-login limits
(shop/logins.py) before any password is checked."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from shop.logins import login_wait


class LimitedLogins:
    """Refuses a login while its account or address is over the limit, as a form error."""

    retry_after = 0

    def clean(self):
        self.retry_after = login_wait(self.request, self.cleaned_data.get("username"))
        if self.retry_after:
            minutes = -(-self.retry_after // 60)
            raise forms.ValidationError(
                "Too many failed logins for this account or from your address; "
                f"try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                code="too_many_failed_logins",
            )
        return super().clean()


class LoginForm(LimitedLogins, AuthenticationForm):
    pass


class AdminLoginForm(LimitedLogins, AdminAuthenticationForm):
    pass
