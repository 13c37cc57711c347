from tests.bot.fixtures import fake_github, rsa_key, settings  # noqa: F401  (shared fixtures)
