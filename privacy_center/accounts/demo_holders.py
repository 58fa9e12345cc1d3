"""The demo operator's account holders: who they are, what they subscribed to, their
complaints and conversations with support, and the communication choices they made. Made up,
but realistic; accounts/demo.py writes them into the database, their data dated relative to
the day of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Published in README: the demo accounts hold made-up data only.
DEMO_PASSWORD = "allopass-demo"  # noqa: S105


@dataclass(frozen=True)
class DemoSubscription:
    service: str
    plan: str
    started_months_ago: int
    price_cents: int
    ended_months_ago: int | None = None


@dataclass(frozen=True)
class DemoHolder:
    number: int
    email: str
    civility: str
    first_name: str
    last_name: str
    date_of_birth: date
    phone: str
    company: str
    street: str
    postal_code: str
    city: str
    language: str
    device: str
    payment_method: str
    subscriptions: tuple[DemoSubscription, ...]
    interests: tuple[tuple[str, str], ...]
    complaints: tuple[tuple[str, str, str], ...]
    conversations: tuple[tuple[str, str, str], ...]
    preferences: dict[tuple[str, str], bool]


HOLDERS = (
    DemoHolder(
        number=1,
        email="camille.martin@example.org",
        civility="Mme",
        first_name="Camille",
        last_name="Martin",
        date_of_birth=date(1988, 4, 12),
        phone="+33 6 12 34 56 78",
        company="Atelier Martin Création",
        street="12, rue des Lilas",
        postal_code="31400",
        city="Toulouse",
        language="fr",
        device="Firefox 128 · Windows 11",
        payment_method="Carte bancaire, via HIPAY",
        subscriptions=(
            DemoSubscription("Passerelle de paiement ALLOPASS", "Pro mensuel", 26, 2900),
            DemoSubscription("Micropaiement SMS+", "Standard", 14, 990),
            DemoSubscription("Statistiques avancées", "Option", 20, 490, ended_months_ago=8),
        ),
        interests=(
            ("Monétisation de contenus", "declared"),
            ("Paiement mobile", "declared"),
            ("Presse en ligne", "inferred"),
            ("Jeux vidéo", "inferred"),
        ),
        complaints=(
            (
                "Double prélèvement sur la facture de mars",
                "Ma facture du mois de mars a été prélevée deux fois sur ma carte. Merci de "
                "procéder au remboursement du second prélèvement.",
                "resolved",
            ),
            (
                "Retard de versement des revenus SMS+",
                "Les revenus SMS+ du mois dernier n'apparaissent toujours pas sur mon relevé.",
                "open",
            ),
        ),
        conversations=(
            (
                "phone",
                "Remboursement d'un double prélèvement",
                "Appel de Mme Martin au sujet d'un double prélèvement. Le conseiller confirme "
                "l'anomalie et lance le remboursement sous 5 jours ouvrés.",
            ),
            (
                "email",
                "Modifier l'adresse de facturation",
                "Bonjour, pouvez-vous mettre à jour mon adresse de facturation ? Réponse : "
                "c'est fait, la prochaine facture portera la nouvelle adresse.",
            ),
            (
                "chat",
                "Intégrer le bouton de paiement",
                "Question sur l'intégration du bouton de paiement dans un site WordPress ; le "
                "conseiller envoie le lien vers la documentation de l'API.",
            ),
        ),
        preferences={
            ("email", "news"): True,
            ("email", "offers"): False,
            ("sms", "news"): False,
            ("sms", "offers"): False,
            ("sms", "similar_services"): False,
        },
    ),
    DemoHolder(
        number=2,
        email="julien.bernard@example.org",
        civility="M.",
        first_name="Julien",
        last_name="Bernard",
        date_of_birth=date(1975, 11, 3),
        phone="+33 7 81 22 45 90",
        company="Bernard Conseil SARL",
        street="8, avenue Jean Jaurès",
        postal_code="69007",
        city="Lyon",
        language="fr",
        device="Safari · iPhone iOS 17",
        payment_method="Prélèvement SEPA, via HIPAY",
        subscriptions=(
            DemoSubscription("Passerelle de paiement ALLOPASS", "Entreprise annuel", 30, 24900),
            DemoSubscription("Paiement par Audiotel", "Standard", 11, 1490),
        ),
        interests=(
            ("Paiement par carte", "declared"),
            ("Services aux entreprises", "declared"),
            ("Formation en ligne", "inferred"),
        ),
        complaints=(
            (
                "Facture illisible",
                "Le PDF de ma dernière facture ne s'ouvre pas. Pouvez-vous me la renvoyer ?",
                "resolved",
            ),
        ),
        conversations=(
            (
                "phone",
                "Passage à l'offre annuelle",
                "M. Bernard demande les conditions du passage à l'offre annuelle ; le "
                "conseiller détaille la remise et envoie un devis par email.",
            ),
            (
                "email",
                "Attestation de paiement",
                "Demande d'une attestation de paiement pour l'expert-comptable ; attestation "
                "envoyée en pièce jointe.",
            ),
        ),
        preferences={
            ("email", "news"): True,
            ("email", "offers"): True,
            ("sms", "news"): False,
            ("sms", "offers"): True,
        },
    ),
    DemoHolder(
        number=3,
        email="thomas.petit@example.org",
        civility="M.",
        first_name="Thomas",
        last_name="Petit",
        date_of_birth=date(1994, 2, 27),
        phone="+33 6 45 78 12 03",
        company="Petit Studio",
        street="3, quai des Chartrons",
        postal_code="33000",
        city="Bordeaux",
        language="en",
        device="Chrome 126 · Android 14",
        payment_method="Carte bancaire, via HIPAY",
        subscriptions=(DemoSubscription("Micropaiement SMS+", "Découverte", 7, 490),),
        interests=(("Podcasts", "declared"), ("Musique en ligne", "inferred")),
        complaints=(
            (
                "Code SMS non reçu",
                "Mes lecteurs signalent qu'ils ne reçoivent pas le code après l'envoi du SMS.",
                "closed",
            ),
        ),
        conversations=(
            (
                "chat",
                "Code SMS non reçu",
                "Le conseiller vérifie la configuration du service et corrige le mot-clé SMS.",
            ),
            (
                "phone",
                "Question sur les reversements",
                "M. Petit demande le calendrier des reversements ; le conseiller l'explique et "
                "indique où le retrouver dans l'espace client.",
            ),
        ),
        preferences={
            ("email", "news"): False,
            ("email", "offers"): False,
            ("email", "similar_services"): False,
        },
    ),
)
