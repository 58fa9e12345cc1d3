// Fake A/B testing: a cookie and a localStorage entry.
document.cookie = "ABTasty=uid%3D" + Date.now() + "; path=/; max-age=34128000; SameSite=Lax";
localStorage.setItem("ABTastyData", JSON.stringify({ variant: "B" }));
window.demoLog("personalization tag ran (ABTasty set)");
