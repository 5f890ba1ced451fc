"""The evidence of a run: Allure results and HTML, verdict, HAR, leak scan, bundle, console."""
