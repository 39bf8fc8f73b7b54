// Audit log section of the admin panel: a placeholder panel for now, with nothing to do.
// Its list and export come here, beside the section's module and template.
"use strict";
