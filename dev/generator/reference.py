"""Published shape of the Olist dataset, written down as constants the generator samples from.

Why constants: the generator must run with no network and no access to the real files, so the
few facts it is calibrated on (category names, state mixes, monthly volume, published mixes) live
here, each with where it comes from. Counts are used as relative weights, never as totals.
"""

from __future__ import annotations

from dataclasses import dataclass

# The 71 rows of product_category_name_translation.csv, in the file's order.
CATEGORY_TRANSLATIONS: tuple[tuple[str, str], ...] = (
    ("beleza_saude", "health_beauty"),
    ("informatica_acessorios", "computers_accessories"),
    ("automotivo", "auto"),
    ("cama_mesa_banho", "bed_bath_table"),
    ("moveis_decoracao", "furniture_decor"),
    ("esporte_lazer", "sports_leisure"),
    ("perfumaria", "perfumery"),
    ("utilidades_domesticas", "housewares"),
    ("telefonia", "telephony"),
    ("relogios_presentes", "watches_gifts"),
    ("alimentos_bebidas", "food_drink"),
    ("bebes", "baby"),
    ("papelaria", "stationery"),
    ("tablets_impressao_imagem", "tablets_printing_image"),
    ("brinquedos", "toys"),
    ("telefonia_fixa", "fixed_telephony"),
    ("ferramentas_jardim", "garden_tools"),
    ("fashion_bolsas_e_acessorios", "fashion_bags_accessories"),
    ("eletroportateis", "small_appliances"),
    ("consoles_games", "consoles_games"),
    ("audio", "audio"),
    ("fashion_calcados", "fashion_shoes"),
    ("cool_stuff", "cool_stuff"),
    ("malas_acessorios", "luggage_accessories"),
    ("climatizacao", "air_conditioning"),
    ("construcao_ferramentas_construcao", "construction_tools_construction"),
    ("moveis_cozinha_area_de_servico_jantar_e_jardim", "kitchen_dining_laundry_garden_furniture"),
    ("construcao_ferramentas_jardim", "costruction_tools_garden"),
    ("fashion_roupa_masculina", "fashion_male_clothing"),
    ("pet_shop", "pet_shop"),
    ("moveis_escritorio", "office_furniture"),
    ("market_place", "market_place"),
    ("eletronicos", "electronics"),
    ("eletrodomesticos", "home_appliances"),
    ("artigos_de_festas", "party_supplies"),
    ("casa_conforto", "home_confort"),
    ("construcao_ferramentas_ferramentas", "costruction_tools_tools"),
    ("agro_industria_e_comercio", "agro_industry_and_commerce"),
    ("moveis_colchao_e_estofado", "furniture_mattress_and_upholstery"),
    ("livros_tecnicos", "books_technical"),
    ("casa_construcao", "home_construction"),
    ("instrumentos_musicais", "musical_instruments"),
    ("moveis_sala", "furniture_living_room"),
    ("construcao_ferramentas_iluminacao", "construction_tools_lights"),
    ("industria_comercio_e_negocios", "industry_commerce_and_business"),
    ("alimentos", "food"),
    ("artes", "art"),
    ("moveis_quarto", "furniture_bedroom"),
    ("livros_interesse_geral", "books_general_interest"),
    ("construcao_ferramentas_seguranca", "construction_tools_safety"),
    ("fashion_underwear_e_moda_praia", "fashion_underwear_beach"),
    ("fashion_esporte", "fashion_sport"),
    ("sinalizacao_e_seguranca", "signaling_and_security"),
    ("pcs", "computers"),
    ("artigos_de_natal", "christmas_supplies"),
    ("fashion_roupa_feminina", "fashio_female_clothing"),
    ("eletrodomesticos_2", "home_appliances_2"),
    ("livros_importados", "books_imported"),
    ("bebidas", "drinks"),
    ("cine_foto", "cine_photo"),
    ("la_cuisine", "la_cuisine"),
    ("musica", "music"),
    ("casa_conforto_2", "home_comfort_2"),
    ("portateis_casa_forno_e_cafe", "small_appliances_home_oven_and_coffee"),
    ("cds_dvds_musicais", "cds_dvds_musicals"),
    ("dvds_blu_ray", "dvds_blu_ray"),
    ("flores", "flowers"),
    ("artes_e_artesanato", "arts_and_craftmanship"),
    ("fraldas_higiene", "diapers_and_hygiene"),
    ("fashion_roupa_infanto_juvenil", "fashion_childrens_clothes"),
    ("seguros_e_servicos", "security_and_services"),
)

# Categories that appear in products but have no English translation (data README).
UNTRANSLATED_CATEGORIES: tuple[str, ...] = (
    "pc_gamer",
    "portateis_cozinha_e_preparadores_de_alimentos",
)

# Products per category in the real products file (relative popularity of categories).
CATEGORY_PRODUCT_COUNTS: dict[str, int] = {
    "cama_mesa_banho": 3029,
    "esporte_lazer": 2867,
    "moveis_decoracao": 2657,
    "beleza_saude": 2444,
    "utilidades_domesticas": 2335,
    "automotivo": 1900,
    "informatica_acessorios": 1639,
    "brinquedos": 1411,
    "relogios_presentes": 1329,
    "telefonia": 1134,
    "bebes": 919,
    "perfumaria": 868,
    "papelaria": 849,
    "fashion_bolsas_e_acessorios": 849,
    "cool_stuff": 789,
    "ferramentas_jardim": 753,
    "pet_shop": 719,
    "eletronicos": 517,
    "construcao_ferramentas_construcao": 400,
    "eletrodomesticos": 370,
    "malas_acessorios": 349,
    "consoles_games": 317,
    "moveis_escritorio": 309,
    "instrumentos_musicais": 289,
    "eletroportateis": 231,
    "casa_construcao": 225,
    "livros_interesse_geral": 216,
    "fashion_calcados": 173,
    "moveis_sala": 156,
    "climatizacao": 124,
    "livros_tecnicos": 123,
    "telefonia_fixa": 116,
    "casa_conforto": 111,
    "market_place": 104,
    "alimentos_bebidas": 104,
    "fashion_roupa_masculina": 95,
    "moveis_cozinha_area_de_servico_jantar_e_jardim": 94,
    "sinalizacao_e_seguranca": 93,
    "construcao_ferramentas_seguranca": 91,
    "eletrodomesticos_2": 90,
    "construcao_ferramentas_jardim": 88,
    "alimentos": 82,
    "bebidas": 81,
    "construcao_ferramentas_iluminacao": 78,
    "agro_industria_e_comercio": 74,
    "industria_comercio_e_negocios": 68,
    "artigos_de_natal": 65,
    "audio": 58,
    "artes": 55,
    "fashion_underwear_e_moda_praia": 53,
    "dvds_blu_ray": 48,
    "moveis_quarto": 45,
    "construcao_ferramentas_ferramentas": 39,
    "portateis_casa_forno_e_cafe": 31,
    "livros_importados": 31,
    "pcs": 30,
    "cine_foto": 28,
    "musica": 27,
    "fashion_roupa_feminina": 27,
    "artigos_de_festas": 26,
    "fashion_esporte": 19,
    "artes_e_artesanato": 19,
    "flores": 14,
    "fraldas_higiene": 12,
    "portateis_cozinha_e_preparadores_de_alimentos": 10,
    "moveis_colchao_e_estofado": 10,
    "la_cuisine": 10,
    "tablets_impressao_imagem": 9,
    "fashion_roupa_infanto_juvenil": 5,
    "casa_conforto_2": 5,
    "pc_gamer": 3,
    "seguros_e_servicos": 2,
    "cds_dvds_musicais": 1,
}
NO_CATEGORY_SHARE = 610 / 32951


@dataclass(frozen=True)
class State:
    """A Brazilian state: its CEP prefix ranges, a rough centre and spread in degrees, cities.

    Customer weights are the per-state customer counts of public EDA of the dataset; seller
    weights are the sellers file's counts, whose top six the data README publishes (the small
    tail is approximate).
    """

    code: str
    zip_ranges: tuple[tuple[int, int], ...]
    lat: float
    lng: float
    spread: float
    customers: int
    sellers: int
    cities: tuple[str, ...]


STATES: tuple[State, ...] = (
    State(
        "SP",
        ((1000, 19999),),
        -23.0,
        -47.3,
        1.0,
        41746,
        1849,
        (
            "sao paulo",
            "campinas",
            "guarulhos",
            "santo andre",
            "sao jose dos campos",
            "ribeirao preto",
            "sorocaba",
            "osasco",
            "santos",
            "sao bernardo do campo",
        ),
    ),
    State(
        "RJ",
        ((20000, 28999),),
        -22.7,
        -43.3,
        0.5,
        12852,
        171,
        (
            "rio de janeiro",
            "niteroi",
            "nova iguacu",
            "duque de caxias",
            "sao goncalo",
            "petropolis",
        ),
    ),
    State(
        "ES",
        ((29000, 29999),),
        -20.0,
        -40.6,
        0.5,
        2033,
        23,
        ("vitoria", "vila velha", "serra", "cariacica", "cachoeiro de itapemirim"),
    ),
    State(
        "MG",
        ((30000, 39999),),
        -19.6,
        -44.6,
        1.5,
        11635,
        244,
        ("belo horizonte", "uberlandia", "contagem", "juiz de fora", "betim", "montes claros"),
    ),
    State(
        "BA",
        ((40000, 48999),),
        -12.8,
        -40.0,
        1.6,
        3380,
        19,
        ("salvador", "feira de santana", "vitoria da conquista", "camacari", "ilheus"),
    ),
    State(
        "SE",
        ((49000, 49999),),
        -10.8,
        -37.3,
        0.3,
        350,
        2,
        ("aracaju", "nossa senhora do socorro", "lagarto"),
    ),
    State(
        "PE",
        ((50000, 56999),),
        -8.2,
        -36.5,
        0.8,
        1652,
        9,
        ("recife", "jaboatao dos guararapes", "olinda", "caruaru", "petrolina"),
    ),
    State(
        "AL",
        ((57000, 57999),),
        -9.6,
        -36.3,
        0.4,
        413,
        0,
        ("maceio", "arapiraca", "palmeira dos indios"),
    ),
    State(
        "PB",
        ((58000, 58999),),
        -7.2,
        -36.2,
        0.5,
        536,
        6,
        ("joao pessoa", "campina grande", "santa rita", "patos"),
    ),
    State("RN", ((59000, 59999),), -5.8, -36.4, 0.4, 485, 5, ("natal", "mossoro", "parnamirim")),
    State(
        "CE",
        ((60000, 63999),),
        -4.2,
        -39.2,
        0.8,
        1336,
        13,
        ("fortaleza", "caucaia", "juazeiro do norte", "sobral"),
    ),
    State("PI", ((64000, 64999),), -6.5, -42.6, 1.2, 495, 1, ("teresina", "parnaiba", "picos")),
    State(
        "MA",
        ((65000, 65999),),
        -4.2,
        -44.8,
        1.3,
        747,
        1,
        ("sao luis", "imperatriz", "caxias", "timon"),
    ),
    State(
        "PA",
        ((66000, 68899),),
        -2.8,
        -49.5,
        1.5,
        975,
        1,
        ("belem", "ananindeua", "santarem", "maraba"),
    ),
    State("AP", ((68900, 68999),), 0.6, -51.3, 0.5, 68, 0, ("macapa", "santana")),
    State(
        "AM",
        ((69000, 69299), (69400, 69899)),
        -3.4,
        -60.5,
        1.5,
        148,
        1,
        ("manaus", "parintins", "itacoatiara"),
    ),
    State("RR", ((69300, 69399),), 2.4, -60.8, 0.6, 46, 0, ("boa vista", "rorainopolis")),
    State("AC", ((69900, 69999),), -9.6, -69.0, 0.8, 81, 1, ("rio branco", "cruzeiro do sul")),
    State(
        "DF",
        ((70000, 72799), (73000, 73699)),
        -15.8,
        -47.9,
        0.15,
        2140,
        30,
        ("brasilia", "taguatinga", "ceilandia", "gama", "sobradinho"),
    ),
    State(
        "GO",
        ((72800, 72999), (73700, 76799)),
        -16.6,
        -49.4,
        1.1,
        2020,
        40,
        ("goiania", "anapolis", "aparecida de goiania", "rio verde"),
    ),
    State(
        "RO",
        ((76800, 76999),),
        -10.3,
        -63.0,
        1.2,
        253,
        2,
        ("porto velho", "ji-parana", "ariquemes"),
    ),
    State("TO", ((77000, 77999),), -10.2, -48.4, 1.2, 280, 0, ("palmas", "araguaina", "gurupi")),
    State(
        "MT",
        ((78000, 78899),),
        -14.5,
        -56.0,
        1.6,
        907,
        4,
        ("cuiaba", "varzea grande", "rondonopolis", "sinop"),
    ),
    State(
        "MS",
        ((79000, 79999),),
        -20.6,
        -54.6,
        1.1,
        715,
        5,
        ("campo grande", "dourados", "tres lagoas", "corumba"),
    ),
    State(
        "PR",
        ((80000, 87999),),
        -25.0,
        -50.8,
        1.0,
        5045,
        349,
        ("curitiba", "londrina", "maringa", "ponta grossa", "cascavel", "foz do iguacu"),
    ),
    State(
        "SC",
        ((88000, 89999),),
        -27.2,
        -49.6,
        0.7,
        3637,
        190,
        ("florianopolis", "joinville", "blumenau", "sao jose", "itajai", "chapeco"),
    ),
    State(
        "RS",
        ((90000, 99999),),
        -29.8,
        -52.0,
        1.1,
        5466,
        129,
        ("porto alegre", "caxias do sul", "pelotas", "canoas", "santa maria", "novo hamburgo"),
    ),
)

# Brazil's bounding box from FEATURES.md section 4; generated centres stay inside it.
BRAZIL_LAT = (-33.75, 5.27)
BRAZIL_LNG = (-73.99, -34.79)

# Real scale-1 sizes (data README) that the generator multiplies by --scale.
REAL_ORDERS = 99441
REAL_CUSTOMER_UNIQUE_IDS = 96096
REAL_SELLERS = 3095
REAL_PRODUCTS = 32951
REAL_GEOLOCATION_ROWS = 1000163
REAL_ZIP_PREFIXES = 19015

# Orders per customer_unique_id: 96096 people, about 3% of them with more than one order.
ORDERS_PER_PERSON: dict[int, float] = {
    1: 0.9688,
    2: 0.0286,
    3: 0.0021,
    4: 0.0003,
    5: 0.0001,
    6: 0.0001,
}

# Monthly order counts of the real dataset (public EDA), used as the purchase-time density.
# 2017-11-24 (Black Friday) is its own period because that single day had ~1,200 orders.
MONTHLY_ORDERS: tuple[tuple[str, int], ...] = (
    ("2016-09", 4),
    ("2016-10", 324),
    ("2016-11", 0),
    ("2016-12", 1),
    ("2017-01", 800),
    ("2017-02", 1780),
    ("2017-03", 2682),
    ("2017-04", 2404),
    ("2017-05", 3700),
    ("2017-06", 3245),
    ("2017-07", 4026),
    ("2017-08", 4331),
    ("2017-09", 4285),
    ("2017-10", 4631),
    ("2017-11", 7544),
    ("2017-12", 5673),
    ("2018-01", 7269),
    ("2018-02", 6728),
    ("2018-03", 7211),
    ("2018-04", 6939),
    ("2018-05", 6873),
    ("2018-06", 6167),
    ("2018-07", 6292),
    ("2018-08", 6512),
    ("2018-09", 16),
    ("2018-10", 4),
)
BLACK_FRIDAY = ("2017-11-24", 1100)

# Purchases per hour of day (public EDA of the real orders): quiet nights, busy afternoons.
HOURLY_ORDERS: tuple[int, ...] = (
    2394,
    1170,
    510,
    272,
    206,
    188,
    502,
    1231,
    2967,
    4785,
    6177,
    6578,
    5995,
    6518,
    6569,
    6454,
    6675,
    6150,
    5769,
    5982,
    6193,
    6217,
    5816,
    4123,
)

# Order status counts from the data README.
STATUS_COUNTS: dict[str, int] = {
    "delivered": 96478,
    "shipped": 1107,
    "canceled": 625,
    "unavailable": 609,
    "invoiced": 314,
    "processing": 301,
    "created": 5,
    "approved": 2,
}

# Review score mix from the data README: 5: 57328, 4: 19142, 1: 11424, 3: 8179, 2: 3151.
REVIEW_SCORE_COUNTS: dict[int, int] = {5: 57328, 4: 19142, 1: 11424, 3: 8179, 2: 3151}
# Orders that never got a delivery are reviewed far worse; this is their assumed mix, and the
# delivered mix is solved from it so the overall mix still matches the published one.
UNDELIVERED_REVIEW_MIX: dict[int, float] = {1: 0.60, 2: 0.10, 3: 0.10, 4: 0.05, 5: 0.15}
# 99441 orders, 98673 of them reviewed, 99224 review rows: ~0.8% unreviewed, ~0.55% extra rows.
NO_REVIEW_SHARE = 768 / 99441
EXTRA_REVIEW_SHARE = 551 / 99441

# Credit-card installments in the payments file (1..24; the two rows with 0 are left out).
CARD_INSTALLMENT_COUNTS: dict[int, int] = {
    1: 25455,
    2: 12413,
    3: 10461,
    4: 7098,
    5: 5239,
    6: 3920,
    7: 1626,
    8: 4268,
    9: 644,
    10: 5328,
    11: 23,
    12: 133,
    13: 16,
    14: 15,
    15: 74,
    16: 5,
    17: 8,
    18: 27,
    20: 17,
    21: 3,
    22: 1,
    23: 1,
    24: 18,
}
# How an order is paid, solved from the payments file's type counts (credit_card 76795,
# boleto 19784, voucher 5775, debit_card 1529 rows over 99440 orders, 103886 rows): vouchers
# are the only multi-row payments, alone or next to a card.
PAYMENT_SCHEMES: dict[str, float] = {
    "credit_card": 0.746,
    "credit_card+voucher": 0.026,
    "boleto": 0.199,
    "debit_card": 0.0154,
    "voucher": 0.0134,
}
NOT_DEFINED_PAYMENTS_PER_ORDER = 3 / 99440

# Items per order (112650 items over 98666 orders with items).
ITEMS_PER_ORDER: dict[int, float] = {1: 0.885, 2: 0.092, 3: 0.013, 4: 0.006, 5: 0.0025, 6: 0.0015}

REVIEW_TITLES: dict[int, tuple[str, ...]] = {
    1: ("Péssimo", "Não recebi", "Não recomendo", "Produto errado"),
    2: ("Ruim", "Demorou", "Veio com defeito"),
    3: ("Regular", "Razoável", "Ok"),
    4: ("Bom", "Gostei", "Recomendo"),
    5: ("Ótimo", "Excelente", "Super recomendo", "Muito bom"),
}
REVIEW_PHRASES: dict[int, tuple[str, ...]] = {
    1: (
        "Não recebi o produto",
        "Comprei dois itens, recebi apenas um",
        'Veio escrito "original" na caixa, mas é falsificado',
        "Produto chegou quebrado, quero meu dinheiro de volta",
        "Já entrei em contato várias vezes e ninguém responde",
    ),
    2: (
        "Demorou demais para chegar",
        "Produto diferente da foto",
        "A embalagem veio aberta, faltando peças",
        'O tamanho não é o "M" que pedi',
    ),
    3: (
        "Produto ok, mas a entrega atrasou",
        "Razoável pelo preço",
        "Chegou no prazo, qualidade mediana",
    ),
    4: (
        "Bom produto",
        "Chegou antes do prazo",
        "Gostei, mas a caixa veio amassada",
        "Recomendo, bom custo-benefício",
    ),
    5: (
        "Recebi bem antes do prazo estipulado.",
        "Parabéns lojas lannister, adorei comprar pela Internet, seguro e prático",
        "Produto excelente, entrega rápida",
        'Tudo certo, exatamente como "anunciado"',
        "Muito bom, recomendo",
    ),
}
