// SSH Private Keys tab: nothing to wire up yet (the panel is a placeholder); stored keys
// will be managed from here.
"use strict";
