// Fake advertising tags: what a Meta pixel and Google Ads would set.
document.cookie = "_fbp=fb.1." + Date.now() + "; path=/; max-age=7776000; SameSite=Lax";
document.cookie = "_gcl_au=1.1." + Date.now() + "; path=/; max-age=7776000; SameSite=Lax";
window.demoLog("advertising tag ran (_fbp, _gcl_au set)");
