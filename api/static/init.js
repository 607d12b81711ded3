// Starts govuk-frontend's components (a file, not an inline script: the Content-Security-Policy allows none).
// Module scripts run only in browsers govuk-frontend supports, so this is also where the body says so.
import { initAll } from "/static/govuk/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
