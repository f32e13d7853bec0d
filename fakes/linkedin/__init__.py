"""The LinkedIn Posts API fake: versioned posts and comments, daily limits, Rest.li errors.

Wire choices (api-semantics.md, LinkedIn section): every error body is
``{"message", "serviceErrorCode", "status"}``. Token errors use LinkedIn's documented service
codes (65600 invalid, 65601 revoked, 65602 expired, 65604 empty), permission errors 100 and
daily throttles 101; where LinkedIn documents no service code (version errors, 404, 422) the fake
sends 0 and adds LinkedIn's string ``code`` (``VERSION_MISSING``, ``NONEXISTENT_VERSION``). A
``/rest/`` call without ``Linkedin-Version`` gets 400 ``VERSION_MISSING``; a version that is not
``YYYYMM``, older than the support window (12 months before the current month on the injected
clock) or from the future gets 426 ``NONEXISTENT_VERSION``. Writes also need
``X-Restli-Protocol-Version: 2.0.0``. Daily limits reset at midnight UTC and their 429 carries
no rate-limit or Retry-After header.
"""

from ._options import DEFAULT_APP_DAILY, DEFAULT_MEMBER_DAILY, ROUTES, LinkedInOptions
from ._service import create

__all__ = ["DEFAULT_APP_DAILY", "DEFAULT_MEMBER_DAILY", "ROUTES", "LinkedInOptions", "create"]
