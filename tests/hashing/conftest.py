from __future__ import annotations

import pytest
from PIL import Image

from tests.hashing.synthetic import scenery, size_for_megapixels

# Eight different synthetic photographs, 1-4 MP, landscape and portrait.
PHOTO_MEGAPIXELS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 1.0)


@pytest.fixture(scope="session")
def photos() -> list[Image.Image]:
    return [
        scenery(seed, *size_for_megapixels(mp, aspect=4 / 3 if seed % 3 else 3 / 4))
        for seed, mp in enumerate(PHOTO_MEGAPIXELS, start=11)
    ]
