// Fake audience measurement: what Google Analytics would set.
document.cookie = "_ga=GA1.1." + Date.now() + "; path=/; max-age=34128000; SameSite=Lax";
document.cookie = "_ga_DEMO=GS1.1." + Date.now() + "; path=/; max-age=34128000; SameSite=Lax";
fetch("/collect?t=pageview", { credentials: "same-origin" });
window.demoLog("analytics tag ran (_ga set)");
