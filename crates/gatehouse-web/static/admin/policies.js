// Policies section of the admin panel: a placeholder panel for now, with nothing to do.
// Its form's script comes here, beside the section's module and template.
"use strict";
