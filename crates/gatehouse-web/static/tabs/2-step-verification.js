// 2-Step Verification tab: nothing to wire up yet (the panel is a placeholder);
// authenticator apps and security keys will be managed from here.
"use strict";
