"""Vietnamese name pools (frequencies of family names from published surveys)."""

from __future__ import annotations

import numpy as np

FAMILY = np.array(
    [
        "Nguyễn",
        "Trần",
        "Lê",
        "Phạm",
        "Hoàng",
        "Huỳnh",
        "Phan",
        "Vũ",
        "Võ",
        "Đặng",
        "Bùi",
        "Đỗ",
        "Hồ",
        "Ngô",
        "Dương",
        "Lý",
        "Đinh",
        "Trương",
        "Lương",
        "Mai",
        "Cao",
        "Tạ",
        "Châu",
        "Lâm",
    ],
    dtype=object,
)
FAMILY_W = np.array(
    [
        38.4,
        11.0,
        9.5,
        7.0,
        3.5,
        2.5,
        4.5,
        3.9,
        2.0,
        2.1,
        2.0,
        1.4,
        1.3,
        1.3,
        1.0,
        0.5,
        0.8,
        0.8,
        0.5,
        0.5,
        0.4,
        0.3,
        0.3,
        0.3,
    ]
)
FAMILY_W = FAMILY_W / FAMILY_W.sum()

MIDDLE_M = np.array(
    ["Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Hoàng", "Xuân", "Ngọc", "Gia", "Tấn"],
    dtype=object,
)
MIDDLE_F = np.array(
    ["Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Bích", "Hồng", "Mỹ", "Phương", "Khánh", "Thùy"],
    dtype=object,
)
GIVEN_M = np.array(
    [
        "An",
        "Anh",
        "Bảo",
        "Bình",
        "Cường",
        "Dũng",
        "Duy",
        "Đạt",
        "Hải",
        "Hiếu",
        "Hòa",
        "Hùng",
        "Huy",
        "Khang",
        "Khánh",
        "Khoa",
        "Kiên",
        "Lâm",
        "Long",
        "Lộc",
        "Minh",
        "Nam",
        "Nghĩa",
        "Nhân",
        "Phát",
        "Phong",
        "Phúc",
        "Quang",
        "Quân",
        "Sơn",
        "Tài",
        "Tâm",
        "Thái",
        "Thắng",
        "Thành",
        "Thịnh",
        "Toàn",
        "Trí",
        "Trung",
        "Tuấn",
        "Tùng",
        "Việt",
        "Vinh",
        "Vũ",
    ],
    dtype=object,
)
GIVEN_F = np.array(
    [
        "An",
        "Anh",
        "Châu",
        "Chi",
        "Diễm",
        "Dung",
        "Duyên",
        "Giang",
        "Hà",
        "Hạnh",
        "Hằng",
        "Hiền",
        "Hoa",
        "Hương",
        "Huyền",
        "Lan",
        "Liên",
        "Linh",
        "Loan",
        "Mai",
        "My",
        "Nga",
        "Ngân",
        "Ngọc",
        "Nhung",
        "Oanh",
        "Phương",
        "Quỳnh",
        "Tâm",
        "Thảo",
        "Thanh",
        "Thủy",
        "Trang",
        "Trinh",
        "Tuyết",
        "Uyên",
        "Vân",
        "Vy",
        "Yến",
    ],
    dtype=object,
)

COMMUNE_NAMES = np.array(
    [
        "Kon Tum",
        "Đăk Bla",
        "Ngọk Bay",
        "Đăk Cấm",
        "Nghĩa Lộ",
        "Trương Quang Trọng",
        "Cẩm Thành",
        "Trà Câu",
        "Đức Phổ",
        "Sa Huỳnh",
        "Bình Sơn",
        "Vạn Tường",
        "Tư Nghĩa",
        "Mộ Đức",
        "Sơn Tịnh",
        "Ba Tơ",
        "Minh Long",
        "Nghĩa Hành",
        "Lý Sơn",
        "Trà Bồng",
        "Sơn Hà",
        "Sơn Tây",
        "Đăk Hà",
        "Đăk Tô",
        "Ngọc Hồi",
        "Sa Thầy",
        "Kon Plông",
        "Kon Rẫy",
        "Tu Mơ Rông",
        "Ia H'Drai",
    ],
    dtype=object,
)

BUSINESS_PREFIX = np.array(
    ["Công ty TNHH", "Công ty Cổ phần", "Doanh nghiệp tư nhân", "Công ty TNHH MTV"], dtype=object
)
BUSINESS_WORDS = np.array(
    [
        "Minh Phát",
        "Thành Công",
        "Hưng Thịnh",
        "Phú Quý",
        "Đại Việt",
        "Sông Trà",
        "Ánh Dương",
        "Tân Tiến",
        "An Khang",
        "Hoàng Long",
        "Bình Minh",
        "Việt Tín",
        "Kim Ngân",
        "Trường An",
    ],
    dtype=object,
)
BUSINESS_TRADE = np.array(
    ["Thương mại", "Xây dựng", "Vận tải", "Nông sản", "Dịch vụ", "Du lịch", "Cà phê", "Thủy sản"],
    dtype=object,
)


def full_names(rng: np.random.Generator, family: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Names as ``family middle given`` for each person (object array)."""
    n = len(family)
    mid = np.where(
        female,
        MIDDLE_F[rng.integers(0, len(MIDDLE_F), n)],
        MIDDLE_M[rng.integers(0, len(MIDDLE_M), n)],
    )
    giv = np.where(
        female, GIVEN_F[rng.integers(0, len(GIVEN_F), n)], GIVEN_M[rng.integers(0, len(GIVEN_M), n)]
    )
    return family + " " + mid + " " + giv
