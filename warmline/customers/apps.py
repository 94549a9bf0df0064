from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "warmline.customers"
    label = "customers"
    verbose_name = "Customers"
