"""One recipe per intent: what its templates fix and how each render fills them."""

from __future__ import annotations

from distillguard.simulate.text.recipes.agents import AgenticHarvest, CodingAgent, ToolUseAssistant
from distillguard.simulate.text.recipes.analysis import DataAnalysis, DataAnalysisHarvest
from distillguard.simulate.text.recipes.batch import (
    BatchClassify,
    BatchExtract,
    SyntheticData,
    SyntheticTestData,
)
from distillguard.simulate.text.recipes.chat import General, SupportChat, Translation, Writing
from distillguard.simulate.text.recipes.coding import BenchmarkCode, CodingHarvest, CodingHelp
from distillguard.simulate.text.recipes.grading import JudgeRubric, RubricGrading, SensitiveRewrite
from distillguard.simulate.text.recipes.maths import (
    BenchmarkMath,
    FormatHarvest,
    HiddenReasoning,
    MathHelp,
    ReasoningReconstruction,
)
from distillguard.simulate.text.recipes.vision import ComputerUse, VisionDescribe
from distillguard.simulate.text.template import Recipe

LEGITIMATE = (
    SupportChat,
    Writing,
    CodingHelp,
    CodingAgent,
    MathHelp,
    BenchmarkMath,
    BenchmarkCode,
    DataAnalysis,
    Translation,
    JudgeRubric,
    BatchClassify,
    BatchExtract,
    SyntheticTestData,
    ToolUseAssistant,
    VisionDescribe,
    General,
)
ATTACK = (
    ReasoningReconstruction,
    RubricGrading,
    SensitiveRewrite,
    HiddenReasoning,
    AgenticHarvest,
    CodingHarvest,
    ComputerUse,
    FormatHarvest,
    SyntheticData,
    DataAnalysisHarvest,
)
RECIPES: dict[str, Recipe] = {cls.intent: cls() for cls in (*LEGITIMATE, *ATTACK)}
