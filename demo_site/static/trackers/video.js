// Fake video player: what a YouTube embed would set.
document.cookie = "YSC=" + Date.now() + "; path=/; SameSite=Lax";
