from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("shop.api.urls")),
    path("", include("shop.pages.urls")),
]

handler500 = "config.views.server_error"
