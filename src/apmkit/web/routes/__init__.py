"""The app's routes, one router per area: sign-in and account (:mod:`.auth`), the design worksheet and saved
designs (:mod:`.design`), runs (:mod:`.runs`), statements, members and attribution (:mod:`.statements`), reports
(:mod:`.reports`), ingestion and data quality (:mod:`.data`), the audit log (:mod:`.audit`).

Each module's ``router(web)`` builds its :class:`fastapi.APIRouter` over the app's shared
:class:`apmkit.web.context.Web`; the routes only parse the request, call the library and render.
"""
