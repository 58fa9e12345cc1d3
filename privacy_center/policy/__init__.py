"""Policy pages: the current policy, its versions, the comparison of two versions, their PDFs
and the static export. The texts themselves, their facts and the cookie registry are content
(``privacy_center/content/``)."""
